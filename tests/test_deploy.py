"""The packaging an IT contractor installs: the systemd unit passes
`systemd-analyze verify`, and the production compose file is complete
(`docker compose config` where Docker is, a structure check with PyYAML where not)."""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from monitor.core.settings import load_config

ROOT = Path(__file__).resolve().parents[1]
UNIT = ROOT / "deploy/systemd/nurserywatch.service"
COMPOSE = ROOT / "deploy/compose/compose.yaml"
SECRET_WORDS = re.compile(r"PASSWORD|SECRET|TOKEN|KEY", re.I)


def unit_settings() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            out.setdefault(key.strip(), []).append(value.strip())
    return out


def test_the_systemd_unit_runs_as_its_own_user_hardened_and_restarting_on_failure():
    s = unit_settings()
    assert s["User"] == ["nurserywatch"] and s["Restart"] == ["on-failure"]
    assert s["EnvironmentFile"] == ["/etc/nurserywatch/nurserywatch.env"]
    assert s["ProtectSystem"] == ["strict"] and s["NoNewPrivileges"] == ["yes"]
    assert s["StateDirectory"] == ["nurserywatch"]  # the only writable place
    assert not any(SECRET_WORDS.search(k) for k in s.get("Environment", []))


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze is not installed here")
def test_the_systemd_unit_passes_systemd_analyze_verify(tmp_path):
    # verify insists the ExecStart binary exists; point it at one that does
    unit = tmp_path / "nurserywatch.service"
    unit.write_text(UNIT.read_text().replace("/opt/nurserywatch/bin/nurserywatch", shutil.which("true")))
    done = subprocess.run(["systemd-analyze", "verify", "--man=no", str(unit)], capture_output=True, text=True)
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr


def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def test_every_compose_service_restarts_has_a_healthcheck_and_a_pinned_image():
    services = compose()["services"]
    assert set(services) == {"db", "nurserywatch", "caddy"}
    for name, svc in services.items():
        assert svc.get("restart") in ("unless-stopped", "always", "on-failure"), name
        assert svc["healthcheck"]["test"], name
        image = svc["image"]
        assert ":" in image and not image.endswith(":latest"), f"{name}: pin the image version, not {image}"


def test_compose_secrets_come_from_env_files_never_from_the_compose_file():
    services = compose()["services"]
    for name, svc in services.items():
        assert svc.get("env_file"), f"{name}: secrets belong in an env_file"
        env = svc.get("environment") or {}
        keys = env if isinstance(env, dict) else [e.partition("=")[0] for e in env]
        assert not [k for k in keys if SECRET_WORDS.search(k)], name
        for env_file in svc["env_file"]:
            assert (COMPOSE.parent / f"{env_file}.example").exists(), f"{env_file}.example documents {name}'s variables"


def test_compose_mounts_only_files_that_exist_and_declares_its_volumes():
    doc = compose()
    for name, svc in doc["services"].items():
        for volume in svc.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (COMPOSE.parent / source).exists(), f"{name} mounts {source}"
            else:
                assert source in doc["volumes"], f"{name}: volume {source} is not declared"
        for dep, cond in svc.get("depends_on", {}).items():
            assert dep in doc["services"] and cond["condition"] == "service_healthy"


def test_the_compose_config_file_is_a_valid_nurserywatch_configuration():
    config = load_config(COMPOSE.parent / "nurserywatch.toml")
    assert config.database.url.startswith("postgresql://") and config.web.base_url.startswith("https://")


@pytest.mark.skipif(subprocess.run(["docker", "compose", "version"], capture_output=True).returncode != 0
                    if shutil.which("docker") else True, reason="docker compose is not installed here")
def test_docker_compose_accepts_the_production_file(tmp_path):
    folder = tmp_path / "deploy/compose"
    shutil.copytree(COMPOSE.parent, folder)
    for example in folder.glob("*.env.example"):  # as the operator would, before `up`
        shutil.copy(example, folder / example.name.removesuffix(".example"))
    done = subprocess.run(["docker", "compose", "-f", str(folder / "compose.yaml"), "config", "--quiet"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
