"""The batch job's pure parts: where videos are cut, and how finished chunks are stored."""

from fractions import Fraction

import pytest

from edge_bodypix import InvalidParameterError
from edge_bodypix.batch.chunks import plan_chunks
from edge_bodypix.batch.manifest import pack_chunk, unpack_chunk
from edge_bodypix.batch.media import Packet
from edge_bodypix.batch.worker import ChunkResult

pytestmark = pytest.mark.pure


def test_chunks_cover_every_frame_once_and_warm_up_from_a_keyframe():
    keyframes = list(range(0, 1394, 10))
    chunks = plan_chunks(1394, keyframes, Fraction(10), chunk_seconds=4, overlap=8)
    assert [c.start for c in chunks] == list(range(0, 1394, 40)) and chunks[-1].end == 1394
    assert all(a.end == b.start for a, b in zip(chunks, chunks[1:]))
    for c in chunks[1:]:
        assert c.warm_from == c.start - 8 and c.decode_from in keyframes and c.decode_from <= c.warm_from
        assert c.warm_from - c.decode_from < 10  # the nearest keyframe before: at most one GOP decoded in vain
    assert chunks[0].warm_from == chunks[0].decode_from == 0


def test_a_video_with_one_keyframe_is_decoded_from_its_start_for_every_chunk():
    chunks = plan_chunks(100, [0], Fraction(25), chunk_seconds=1, overlap=3)
    assert len(chunks) == 4 and {c.decode_from for c in chunks} == {0}


@pytest.mark.parametrize("bad", [{"chunk_seconds": 0.0}, {"chunk_seconds": float("nan")}, {"overlap": -1}])
def test_bad_chunking_is_refused_by_name(bad):
    with pytest.raises(InvalidParameterError, match=next(iter(bad))):
        plan_chunks(100, [0], Fraction(25), **bad)


def test_a_stored_chunk_reads_back_exactly():
    packets = (Packet(b"\x00\x00\x01key", 0, 0, True), Packet(b"", 20000, 20000, False),
               Packet(b"p" * 999, 40000, 40000, False))
    result = ChunkResult("cam/a.mp4", 3, 3, 2, 1, packets, error=None, seconds=1.5, codec_seconds=0.4, worker="n:1")
    back = unpack_chunk(pack_chunk(result))
    assert back == result and back.packets == packets and back.worker == "n:1"
    image = ChunkResult("b.jpg", 0, 1, 5, 0, image=b"\xff\xd8jpeg", error="boom")
    assert unpack_chunk(pack_chunk(image)) == image
    with pytest.raises(ValueError, match="not a chunk file"):
        unpack_chunk(b"garbage")
