"""Regenerate the committed identity splits of the face data sets (src/metagen/data/splits/).

CelebA: identities with 20 or more images, shuffled with seed 0; 50 test, 10 validation, the
rest training (about 3:1, DESIGN.md). AT&T: 40 people, seed 0; 10 test, 30 training.
Run: python scripts/make_face_splits.py [--root ../shared/data]
"""

import argparse
import os
from pathlib import Path

from metagen.data.faces import load_att_faces, load_celeba_identities
from metagen.data.splits import make_split

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "src" / "metagen" / "data" / "splits"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=os.environ.get("METAGEN_DATA", str(REPO.parent / "shared" / "data")))
    root = Path(parser.parse_args().root)
    celeba = load_celeba_identities(root / "faces", min_images=20)
    make_split(celeba.class_names, 10, 50, seed=0, source="CelebA identities with >= 20 images, seed 0").save(
        OUT / "celeba_identities.json"
    )
    att = load_att_faces(root / "faces")
    make_split(att.class_names, 0, 10, seed=0, source="AT&T faces, seed 0").save(OUT / "att_faces.json")
    print(f"CelebA: {celeba.num_classes} identities; AT&T: {att.num_classes} people; written to {OUT}")


if __name__ == "__main__":
    main()
