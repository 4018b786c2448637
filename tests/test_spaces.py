"""Tests for joined spaces: several representations' codes side by side, each weighted alike."""

import numpy as np
import pytest

from latens import representations, spaces


def test_each_block_is_centred_at_total_variance_one():
    rng = np.random.default_rng(0)
    wide = rng.normal(5.0, 30.0, size=(200, 128))
    narrow = rng.normal(-2.0, 0.01, size=(200, 2))
    joined = spaces.join([wide, narrow])
    assert joined.shape == (200, 130) and joined.dtype == np.float32
    for block in (joined[:, :128], joined[:, 128:]):
        np.testing.assert_allclose(block.mean(axis=0), 0.0, atol=1e-5)
        assert block.var(axis=0).sum() == pytest.approx(1.0, rel=1e-5)
    # Within a block the geometry is kept: distances scale by one factor.
    scale = np.sqrt((wide - wide.mean(0)).var(0).sum())
    np.testing.assert_allclose(joined[:, :128], (wide - wide.mean(0)) / scale, rtol=1e-4, atol=1e-6)


def test_a_constant_block_stays_at_zero():
    joined = spaces.join([np.ones((5, 3)), np.arange(10.0).reshape(5, 2)])
    np.testing.assert_array_equal(joined[:, :3], 0.0)
    assert joined[:, 3:].var(axis=0).sum() == pytest.approx(1.0)


def test_bad_codes_are_refused():
    with pytest.raises(ValueError, match="at least one"):
        spaces.join([])
    with pytest.raises(ValueError, match="same images"):
        spaces.join([np.zeros((4, 2)), np.zeros((5, 2))])
    with pytest.raises(ValueError, match=r"must be \[N, L\]"):
        spaces.join([np.zeros(4)])


def test_a_joined_name_lists_its_parts():
    assert representations.parts("simclr+cae16") == ("simclr", "cae16")
    assert representations.parts("vae16") == ("vae16",)
    with pytest.raises(ValueError, match="each representation once"):
        representations.parts("cae16+cae16")
    with pytest.raises(ValueError, match="each representation once"):
        representations.parts("cae+simclr+cae2")  # the CAE's default L is 2
    with pytest.raises(ValueError, match="unknown representation"):
        representations.parts("simclr+gan")
