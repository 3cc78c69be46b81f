"""Multi-person segmentation: poses, per-person instance masks and part maps on the shared photos."""

import numpy as np
import pytest

from edge_bodypix import InvalidParameterError, KEYPOINT_NAMES, PartSegmentation, PersonSegmentation, Pose
from edge_bodypix.adapters.poses import MaxHeap, local_maxima


EXPECTED_PEOPLE = {"one": 1, "two": 2, "five": 5}


def keypoint(pose: Pose, name: str):
    return pose.keypoints[KEYPOINT_NAMES.index(name)]


@pytest.mark.parametrize("name", ["one", "two", "five"])
def test_each_person_is_found_once(net, photos, name):
    people = net.segment_multi_person(photos[name])
    assert len(people) == EXPECTED_PEOPLE[name]
    assert all(isinstance(p, PersonSegmentation) and p.pose is not None for p in people)
    assert all(p.pose.score >= 0.4 for p in people)


@pytest.mark.parametrize("name", ["one", "two", "five"])
def test_instance_masks_are_disjoint_and_cover_the_person_mask(net, photos, name):
    image = photos[name]
    people = net.segment_multi_person(image)
    masks = np.stack([p.data for p in people])
    assert masks.dtype == np.uint8 and set(np.unique(masks)) <= {0, 1}
    assert masks.sum(axis=0).max() == 1
    assert np.array_equal(masks.max(axis=0), net.segment_person(image).data)


@pytest.mark.parametrize("name", ["two", "five"])
def test_poses_are_upright_and_inside_their_own_mask(net, photos, name):
    for person in net.segment_multi_person(photos[name]):
        pose = person.pose
        nose, hips = keypoint(pose, "nose"), [keypoint(pose, "leftHip"), keypoint(pose, "rightHip")]
        shoulders = [keypoint(pose, "leftShoulder"), keypoint(pose, "rightShoulder")]
        if nose.score > 0.5 and min(h.score for h in hips) > 0.5:
            assert nose.position[1] < min(h.position[1] for h in hips)
        if min(s.score for s in shoulders) > 0.5 and min(h.score for h in hips) > 0.5:
            assert max(s.position[1] for s in shoulders) < min(h.position[1] for h in hips)
        # the person's mask lies around its own confident upper-body keypoints
        xs = [kp.position[0] for kp in (nose, *shoulders) if kp.score > 0.5]
        ys, cols = np.nonzero(person.data)
        assert xs and cols.min() <= np.mean(xs) <= cols.max()


def test_five_people_are_ordered_across_the_photo_by_their_masks(net, photos):
    people = net.segment_multi_person(photos["five"])
    centres = sorted(np.nonzero(p.data)[1].mean() for p in people)
    assert np.all(np.diff(centres) > 100)  # five separate bodies side by side


def test_part_maps_per_person_agree_with_masks_and_semantic_parts(net, photos):
    image = photos["five"]
    people = net.segment_multi_person(image)
    people_parts = net.segment_multi_person_parts(image)
    semantic = net.segment_person_parts(image).data
    assert len(people_parts) == len(people)
    for person, parts in zip(people, people_parts):
        assert isinstance(parts, PartSegmentation) and parts.data.dtype == np.int32
        assert np.array_equal(parts.data >= 0, person.data == 1)
        own = person.data == 1
        assert np.array_equal(parts.data[own], semantic[own])
        assert parts.pose.score == pytest.approx(person.pose.score)


def test_segment_person_reports_all_poses(net, photos):
    result = net.segment_person(photos["five"])
    assert 5 <= len(result.all_poses) <= 10
    strong = [p for p in result.all_poses if p.score >= 0.4]
    assert len(strong) == 5
    assert all(len(p.keypoints) == 17 and p.keypoints[0].part == "nose" for p in result.all_poses)


def test_max_detections_and_score_threshold_are_honoured(net, photos):
    image = photos["five"]
    assert len(net.segment_person(image, max_detections=2).all_poses) == 2
    assert len(net.segment_multi_person(image, max_detections=2)) <= 2
    strict = net.segment_multi_person(image, score_threshold=0.6)
    assert 0 < len(strict) < 5 and all(p.pose.score >= 0.6 for p in strict)
    nms = net.segment_person(image, nms_radius=200).all_poses
    assert len(nms) < len(net.segment_person(image).all_poses)


def test_flip_horizontal_mirrors_poses_and_masks(net, photos):
    image = photos["two"]
    width = image.shape[1]
    plain = net.segment_multi_person(image)
    flipped = net.segment_multi_person(image, flip_horizontal=True)
    assert len(plain) == len(flipped)
    for a, b in zip(plain, flipped):
        assert np.array_equal(b.data, a.data[:, ::-1])
        for ka, kb in zip(a.pose.keypoints, b.pose.keypoints):
            assert kb.position[0] == pytest.approx(width - 1 - ka.position[0])
            assert kb.position[1] == pytest.approx(ka.position[1]) and kb.score == ka.score
    poses = net.segment_person(image).all_poses
    mirrored = net.segment_person(image, flip_horizontal=True).all_poses
    assert mirrored[0].keypoints[0].position[0] == pytest.approx(width - 1 - poses[0].keypoints[0].position[0])


def test_camera_frames_work(net, frames):
    people = net.segment_multi_person(frames["five"])
    assert 4 <= len(people) <= 5
    assert all(p.data.shape == (480, 640) for p in people)


def test_seed_readme_aliases(net, frames):
    assert net.estimate_multi_person_instance_segmentation.__func__ is type(net).segment_multi_person
    assert net.estimate_multi_person_instance_part_segmentation.__func__ is type(net).segment_multi_person_parts
    assert net.estimate_single_person_segmentation.__func__ is type(net).segment_person
    assert net.estimate_single_person_part_segmentation.__func__ is type(net).segment_person_parts


@pytest.mark.parametrize(
    "kwargs, message",
    [({"refine_steps": 0}, "refine_steps 0"), ({"refine_steps": 21}, "refine_steps 21"),
     ({"min_keypoint_score": 1.5}, "min_keypoint_score 1.5"), ({"max_detections": 0}, "max_detections 0")],
)
def test_bad_multi_person_parameters(net, frames, kwargs, message):
    with pytest.raises(InvalidParameterError, match=message):
        net.segment_multi_person(frames["one"], **kwargs)


def test_max_heap_pops_in_body_pix_order_with_ties():
    heap = MaxHeap()
    for i, score in enumerate([0.5, 0.9, 0.5, 0.7, 0.9, 0.5, 0.1]):
        heap.enqueue(score, (i,))
    order = [heap.dequeue() for _ in range(len(heap))]
    assert [s for s, _ in order] == sorted([0.5, 0.9, 0.5, 0.7, 0.9, 0.5, 0.1], reverse=True)
    # the order body-pix 2.2.1's MaxHeap (children at 2k and 2k + 1) gives, run in Node.js
    assert [i for _, (i,) in order] == [1, 4, 3, 5, 0, 2, 6]


def test_local_maxima_match_a_direct_search():
    rng = np.random.default_rng(0)
    scores = np.round(rng.random((9, 11, 3)), 1).astype(np.float32)  # with ties
    found = {tuple(c) for c in local_maxima(scores, 0.5)}
    expected = set()
    for y in range(9):
        for x in range(11):
            for k in range(3):
                window = scores[max(y - 1, 0):y + 2, max(x - 1, 0):x + 2, k]
                if scores[y, x, k] >= 0.5 and not (window > scores[y, x, k]).any():
                    expected.add((y, x, k))
    assert found == expected


@pytest.mark.parametrize("image_size, lattice_shape",
                         [((1080, 1440), (66, 88)), ((481, 641), (31, 40)), ((100, 77), (9, 7))])
def test_lattice_coverage_holds_where_nearest_upsampling_takes_person_labels_from(image_size, lattice_shape):
    import cv2

    from edge_bodypix.adapters.instances import lattice_coverage

    rng = np.random.default_rng(sum(image_size))
    mask = np.zeros(image_size, np.uint8)
    for _ in range(5):
        centre = (int(rng.integers(0, image_size[1])), int(rng.integers(0, image_size[0])))
        cv2.circle(mask, centre, int(rng.integers(1, max(2, image_size[0] // 6))), 1, -1)
    ids = np.arange(lattice_shape[0] * lattice_shape[1], dtype=np.int32).reshape(lattice_shape)
    # each image pixel's lattice point, as instance_labels upsamples the lattice's labels
    owner = cv2.resize(ids.astype(np.float32), image_size[::-1], interpolation=cv2.INTER_NEAREST_EXACT).astype(int)
    expected = np.zeros(lattice_shape, bool)
    expected.ravel()[np.unique(owner[mask == 1])] = True
    covered = lattice_coverage(mask, lattice_shape)
    assert covered[expected].all()  # every lattice point a person pixel reads is walked
    # and few more: a block of 4x4 pixels reaches at most one lattice point further than its person pixels
    assert (covered & ~expected).sum() <= 0.25 * expected.sum() + 4
