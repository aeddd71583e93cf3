"""``metagen evaluate --protocol restoration`` on a small image set and the published DnCNN."""

import json

import numpy as np
import pytest

from metagen.cli.main import main
from tests.conftest import write_image


@pytest.fixture
def tiny_set12(tmp_path):
    rng = np.random.default_rng(0)
    for i in range(2):
        smooth = np.add.outer(np.arange(40), np.arange(48)) * 2 + rng.integers(0, 30, (40, 48))
        write_image(tmp_path / "Set12" / f"{i:02d}.png", smooth.clip(0, 255).astype(np.uint8))
    write_image(tmp_path / "CBSD68" / "a.png", rng.integers(0, 256, (40, 48, 3), dtype=np.uint8))
    return tmp_path


def test_restoration_report(shared_data, tiny_set12, tmp_path, capsys):
    weights = shared_data / "pretrained" / "dncnn_25_kair.pth"
    out = tmp_path / "report"
    args = ["evaluate", "--protocol", "restoration", "--model", f"dncnn25:{weights}", "--root", str(tiny_set12)]
    assert main([*args, "--sets", "Set12", "--out", str(out)]) == 0
    assert "Set12: PSNR" in capsys.readouterr().out
    report = json.loads((out / "report.json").read_text())
    (result,) = report["results"]
    assert result["images"] == 2 and set(result["per_image"]) == {"00", "01"}
    assert result["psnr"] > 22.0  # better than the noisy input (about 20.2 dB at sigma 25)
    assert (out / "report.md").is_file() and (out / "Set12.png").is_file()
    # the grey model refuses colour sets; a bad model spec is one clear line
    assert main([*args, "--sets", "CBSD68"]) == 2
    assert "grey images" in capsys.readouterr().err
    assert main(["evaluate", "--protocol", "restoration", "--model", "bm3d:x"]) == 2
    assert "KIND:PATH" in capsys.readouterr().err
    assert main(["evaluate", "--protocol", "restoration"]) == 2
    assert "--model" in capsys.readouterr().err
