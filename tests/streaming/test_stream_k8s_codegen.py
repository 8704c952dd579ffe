"""A stream spec is all a new stream's bridge needs on GKE: `mdp specs generate-k8s` writes its Deployment and
PodDisruptionBudget into the kustomize base, and removes them with the spec."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from streaming.k8s_codegen import generate_stream_k8s_files, stale_stream_k8s_files
from streaming.spec import load_stream_specs
from tests.conftest import REPO
from tests.streaming.support import MDP

BASE = REPO / "orchestrator" / "k8s" / "base"
QUOTES_SPEC = (REPO / "source_specs" / "streaming" / "rfq.yaml").read_text().replace("rfq", "dealer_quotes")


def _documents(path: Path) -> dict[str, dict[str, Any]]:
    return {f"{doc['kind']}/{doc['metadata']['name']}": doc for doc in yaml.safe_load_all(path.read_text())}


def test_checked_in_bridges_are_up_to_date() -> None:
    assert stale_stream_k8s_files(load_stream_specs(REPO / "source_specs"), BASE) == []
    assert "streams" in yaml.safe_load((BASE / "kustomization.yaml").read_text())["resources"]


def test_a_new_stream_spec_gets_its_bridge_and_loses_it_with_the_spec(tmp_path: Path) -> None:
    specs_dir, base = tmp_path / "source_specs", tmp_path / "base"
    shutil.copytree(REPO / "source_specs", specs_dir)
    shutil.copytree(BASE, base)
    (specs_dir / "streaming" / "dealer_quotes.yaml").write_text(QUOTES_SPEC)
    generated = subprocess.run(
        [MDP, "specs", "generate-k8s", "--base", str(base)],
        env={"PATH": str(Path(MDP).parent), "MDP_SPECS_DIR": str(specs_dir)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert generated.returncode == 0, generated.stderr
    assert yaml.safe_load((base / "streams" / "kustomization.yaml").read_text())["resources"] == [
        "bridge-dealer_quotes.yaml",
        "bridge-rfq.yaml",
    ]
    objects = _documents(base / "streams" / "bridge-dealer_quotes.yaml")
    assert set(objects) == {"Deployment/mdp-bridge-dealer-quotes", "PodDisruptionBudget/mdp-bridge-dealer-quotes"}
    deployment = objects["Deployment/mdp-bridge-dealer-quotes"]
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert selector == {
        "app.kubernetes.io/name": "mdp-bridge",
        "app.kubernetes.io/instance": "mdp-bridge-dealer-quotes",
    }
    assert objects["PodDisruptionBudget/mdp-bridge-dealer-quotes"]["spec"]["selector"]["matchLabels"] == selector
    pod = deployment["spec"]["template"]
    assert selector.items() <= pod["metadata"]["labels"].items(), "the selector selects the Deployment's own pods"
    assert pod["spec"]["containers"][0]["args"] == ["bridge", "run", "dealer_quotes"]
    # Another stream's bridge selects no pod of this one.
    rfq = _documents(base / "streams" / "bridge-rfq.yaml")["Deployment/mdp-bridge-rfq"]
    assert not rfq["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    # The check fails while a spec has no bridge, and the spec's removal removes it.
    (specs_dir / "streaming" / "dealer_quotes.yaml").unlink()
    specs = load_stream_specs(specs_dir)
    assert stale_stream_k8s_files(specs, base) == [
        base / "streams" / "bridge-dealer_quotes.yaml",
        base / "streams" / "kustomization.yaml",
    ]
    generate_stream_k8s_files(specs, base)
    assert sorted(path.name for path in (base / "streams").iterdir()) == ["bridge-rfq.yaml", "kustomization.yaml"]
    assert stale_stream_k8s_files(specs, base) == []
