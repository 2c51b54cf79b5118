"""deploy/ is checked by the tools that will read it: `nginx -t` on the site
and `systemd-analyze verify` on the units (Debian's nginx and systemd; CI
installs them). A missing tool fails the test, it never skips it."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import run_process

pytestmark = pytest.mark.no_db

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


def require(tool: str) -> str:
    path = shutil.which(tool) or shutil.which(tool, path="/usr/sbin:/sbin:/usr/bin")
    if path is None:
        pytest.fail(f"`{tool}` is not installed; the deploy checks need it "
                    f"(apt-get install nginx systemd).")
    return path


def _run(args: list[str]) -> subprocess.CompletedProcess:
    return run_process(args, timeout=60)


def test_nginx_site_passes_nginx_t_with_a_test_certificate(tmp_path):
    nginx, openssl = require("nginx"), require("openssl")
    assert _run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                 "-subj", "/CN=harbour.example", "-keyout", str(tmp_path / "key.pem"),
                 "-out", str(tmp_path / "cert.pem")]).returncode == 0
    assert _run([openssl, "genpkey", "-genparam", "-algorithm", "DH", "-pkeyopt",
                 "group:ffdhe2048", "-out", str(tmp_path / "dh.pem")]).returncode == 0
    site = (DEPLOY / "nginx" / "harbour.conf").read_text()
    for deployed, local in {
        "/etc/letsencrypt/live/harbour.example/fullchain.pem": tmp_path / "cert.pem",
        "/etc/letsencrypt/live/harbour.example/privkey.pem": tmp_path / "key.pem",
        "/etc/nginx/ffdhe2048.pem": tmp_path / "dh.pem",
        "/etc/nginx/snippets/harbour-proxy.conf": DEPLOY / "nginx" / "harbour-proxy.conf",
        "/var/log/nginx/": f"{tmp_path}/",
    }.items():
        assert deployed in site, deployed
        site = site.replace(deployed, str(local))
    (tmp_path / "site.conf").write_text(site)
    conf = tmp_path / "nginx.conf"
    conf.write_text(f"pid {tmp_path}/nginx.pid;\nevents {{}}\n"
                    f"http {{\n    include {tmp_path}/site.conf;\n}}\n")
    result = _run([nginx, "-t", "-p", str(tmp_path), "-c", str(conf),
                   "-e", str(tmp_path / "error.log")])
    assert result.returncode == 0, result.stderr
    assert "[warn]" not in result.stderr and "[emerg]" not in result.stderr, result.stderr


def test_nginx_site_follows_the_intermediate_profile_and_logs_no_address():
    site = (DEPLOY / "nginx" / "harbour.conf").read_text()
    assert re.search(r"ssl_protocols TLSv1\.2 TLSv1\.3;", site)
    assert "ssl_session_tickets off;" in site and "ssl_prefer_server_ciphers off;" in site
    log_format = re.search(r"log_format harbour_private ([^;]+);", site).group(1)
    for leak in ("$remote_addr", "$request ", "$request_uri", "$uri", "$args",
                 "$http_x_forwarded_for", "$binary_remote_addr"):
        assert leak not in log_format + " ", leak
    for access_log in re.findall(r"access_log ([^;]+);", site):
        assert access_log.endswith(" harbour_private"), access_log
    params = (DEPLOY / "nginx" / "harbour-proxy.conf").read_text()
    # Replaced, never appended: a client's own X-Forwarded-For is dropped.
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in params
    assert "proxy_set_header X-Forwarded-Proto $scheme;" in params


def test_gunicorn_config_logs_no_address_path_or_query():
    namespace: dict = {}
    exec(compile((DEPLOY / "gunicorn.conf.py").read_text(), "gunicorn.conf.py", "exec"),  # noqa: S102
         namespace)
    access = namespace["access_log_format"]
    for atom in ("%(h)s", "%(r)s", "%(U)s", "%(q)s", "%(f)s", "%({x-forwarded-for}i)s"):
        assert atom not in access, atom
    formatter = namespace["logconfig_dict"]["formatters"]["json"]["()"]
    assert formatter == "community.logs.json_formatter"


@pytest.mark.parametrize("unit", ["harbour-web.service", "harbour-worker.service"])
def test_systemd_unit_verifies_and_is_hardened(tmp_path, unit):
    analyze = require("systemd-analyze")
    text = (DEPLOY / "systemd" / unit).read_text()
    for option in ("NoNewPrivileges=yes", "ProtectSystem=strict", "PrivateTmp=yes",
                   "ProtectHome=yes", "ReadWritePaths=/srv/harbour/instance"):
        assert option in text, option
    # The deployed paths, pointed at this checkout's virtualenv and a scratch
    # folder, since verify checks that each command exists.
    bindir = Path(sys.executable).parent
    text = (text.replace("/srv/harbour/.venv/bin/", f"{bindir}/")
                .replace("/srv/harbour/deploy/", f"{DEPLOY}/")
                .replace("/etc/harbour/harbour.env", str(tmp_path / "harbour.env"))
                .replace("/srv/harbour", str(tmp_path)))
    (tmp_path / "harbour.env").write_text("")
    (tmp_path / "instance").mkdir()
    path = tmp_path / unit
    path.write_text(text)
    result = _run([analyze, "verify", str(path)])
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "", result.stderr


def _production_guide() -> str:
    readme = (ROOT / "README.md").read_text()
    return readme.split("## Running in production\n", 1)[1].split("\n## ", 1)[0]


def test_the_production_guide_runs_the_script_ci_runs_with_the_same_options():
    """The README's install step is deploy/install.sh with the options that
    tests/functional/test_install.py passes; the files the guide copies exist."""
    import shlex

    guide = _production_guide()
    install = r"runuser -u harbour -- (/srv/harbour/src/deploy/install\.sh[^`]+?)\n\s*```"
    command = re.search(install, guide, re.S).group(1).replace("\\\n", " ")
    words = shlex.split(command)
    assert words[0] == "/srv/harbour/src/deploy/install.sh"
    guide_options = {word for word in words if word.startswith("--")}
    ci = (ROOT / "tests" / "functional" / "test_install.py").read_text()
    ci_call = ci.split('str(source / "deploy" / "install.sh")', 1)[1].split("env=env", 1)[0]
    ci_options = set(re.findall(r'"(--[a-z-]+)"', ci_call)) - {"--pip-option"}
    assert guide_options == ci_options == {"--prefix", "--env-file", "--database-url",
                                           "--redis-url", "--host"}
    script = (DEPLOY / "install.sh").read_text()
    for option in guide_options:
        assert f"{option})" in script, option
    # The settings file the script writes is the one the units read.
    assert "--env-file /etc/harbour/harbour.env" in " ".join(words)
    for unit in ("harbour-web.service", "harbour-worker.service"):
        assert "EnvironmentFile=/etc/harbour/harbour.env" in (DEPLOY / "systemd" / unit).read_text()
    # Every deploy file the guide copies is in deploy/, where install.sh copies it from.
    named = set(re.findall(r"/srv/harbour/deploy/([\w./-]+)", guide))
    assert {"systemd/harbour-web.service", "systemd/harbour-worker.service",
            "nginx/harbour.conf", "nginx/harbour-proxy.conf"} <= named
    for path in named:
        assert (DEPLOY / path).is_file(), path
    assert 'cp -R "$SOURCE/deploy/." "$PREFIX/deploy/"' in script


def test_install_script_passes_bash_n():
    bash = require("bash")
    result = _run([bash, "-n", str(DEPLOY / "install.sh")])
    assert result.returncode == 0, result.stderr
