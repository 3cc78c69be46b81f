"""How benchmarks/privacy_leaks.py judges faces: consensus of two judges, recognisability, and its verdict."""

import sys

import cv2
import numpy as np

from conftest import PHOTOS, ROOT, read_rgb

sys.path.insert(0, str(ROOT / "benchmarks"))
import privacy_leaks as leaks  # noqa: E402


def test_a_consensus_face_is_one_both_judges_find():
    first = lambda image: [(10, 10, 50, 50), (100, 100, 140, 140)]  # noqa: E731
    second = lambda image: [(12, 12, 52, 52), (200, 10, 240, 50)]  # noqa: E731
    faces = leaks.find_faces([first, second], np.zeros((300, 300, 3), np.uint8))
    assert faces.consensus == [(11.0, 11.0, 51.0, 51.0)]
    assert sorted(faces.single) == [(100, 100, 140, 140), (200, 10, 240, 50)]


def test_a_sharp_face_is_recognisable_and_a_default_blur_is_not():
    image = read_rgb(PHOTOS["one"])
    box = (639.0, 328.0, 854.0, 543.0)  # where dlib finds the face
    def recognisable(output):
        score, borderline = leaks.face_similarity(image, output, box)
        return score > borderline

    assert leaks.face_similarity(image, image, box)[0] == 1.0 and recognisable(image)
    assert recognisable(cv2.GaussianBlur(image, (0, 0), 4))  # 2% of the face width: still recognisable
    assert not recognisable(cv2.GaussianBlur(image, (0, 0), 13))  # 6%
    assert not recognisable(cv2.GaussianBlur(image, (0, 0), 29))  # the blur effect's default for a 1440 px photo
    assert not recognisable(np.zeros((10, 10, 3), np.uint8))  # not this frame


def test_the_verdict_names_every_missed_target_and_ignores_the_unguarded_baseline():
    faces = leaks.Faces([(0, 0, 40, 40)], [])
    image = np.full((60, 60, 3), 128, np.uint8)
    image[10:30, 10:30] = 0
    leaked = leaks.Tally("photos, faces")
    leaked.add("a", image, image, faces)  # output == input: recognisable
    fault = leaks.Tally("source lost mid-stream")
    fault.add("b", image, image, faces)
    baseline = leaks.Tally("corrupted model, photos (library, no self-test)")
    baseline.add("c", image, image, faces)
    refused = leaks.Tally("NaN min_keypoint_score")
    refused.add("d", image, None, faces)  # nothing came out
    misses = leaks.verdicts([leaked], [], [fault, baseline, refused])
    assert len(misses) == 2 and misses[0].startswith("photos, faces: 1 of 1") and "source lost" in misses[1]
