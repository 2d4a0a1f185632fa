import numpy as np
import pytest

from models.ar1 import ar1_paths


def recursion(shocks: np.ndarray, sigma: float, phi: float, start: float = 0.0) -> np.ndarray:
    """u_j = phi u_{j-1} + sigma e_j, written out step by step."""
    u = np.empty_like(shocks)
    prev = np.full(shocks.shape[0], start)
    for j in range(shocks.shape[1]):
        prev = phi * prev + sigma * shocks[:, j]
        u[:, j] = prev
    return u


def test_a_one_year_gap_is_exactly_the_recursion():
    shocks = np.random.default_rng(0).standard_normal((7, 12))
    np.testing.assert_array_equal(ar1_paths(shocks, 0.2, 0.6), recursion(shocks, 0.2, 0.6))
    np.testing.assert_array_equal(ar1_paths(shocks, 0.2, 0.6, start=1.5), recursion(shocks, 0.2, 0.6, start=1.5))


def test_a_unit_shock_after_a_two_year_gap_has_the_two_step_scale():
    # from 0, two yearly steps give sigma e1 phi + sigma e2: variance sigma^2 (1 + phi^2)
    sigma, phi = 0.3, 0.5
    u = ar1_paths(np.ones((1, 1)), sigma, phi, gaps=2.0)
    assert u[0, 0] == pytest.approx(sigma * np.sqrt(1 + phi**2), rel=1e-12)


def test_the_two_year_variance_matches_two_yearly_steps():
    sigma, phi = 0.3, 0.5
    shocks = np.random.default_rng(1).standard_normal((200_000, 1))
    variance = ar1_paths(shocks, sigma, phi, gaps=2.0)[:, 0].var()
    assert variance == pytest.approx(sigma**2 * (1 + phi**2), rel=0.01)


def test_after_a_long_gap_the_variance_is_the_stationary_one():
    sigma, phi = 0.1, 0.8
    stationary = sigma / np.sqrt(1 - phi**2)
    assert ar1_paths(np.ones((1, 1)), sigma, phi, gaps=60.0)[0, 0] == pytest.approx(stationary, rel=1e-10)
    shocks = np.random.default_rng(2).standard_normal((200_000, 1))
    long_gap = ar1_paths(shocks, sigma, phi, gaps=60.0, start=5.0)[:, 0]  # the start is forgotten too
    assert long_gap.mean() == pytest.approx(0.0, abs=0.002)
    assert long_gap.var() == pytest.approx(sigma**2 / (1 - phi**2), rel=0.01)


def test_mixed_gaps_apply_the_exact_transition_per_step():
    sigma, phi = 0.2, 0.7
    stationary = sigma / np.sqrt(1 - phi**2)
    u = ar1_paths(np.ones((1, 3)), sigma, phi, gaps=np.array([1.0, 3.0, 1.0]))
    second = phi**3 * sigma + stationary * np.sqrt(1 - phi**6)
    np.testing.assert_allclose(u[0], [sigma, second, phi * second + sigma], rtol=1e-12)


def test_inactive_steps_are_zero_and_the_next_active_step_restarts_from_zero():
    shocks = np.array([[1.0, 2.0, -1.0, 0.5], [0.5, 0.5, 0.5, 0.5]])
    active = np.array([[True, False, True, True], [False, False, True, True]])
    u = ar1_paths(shocks, 0.1, 0.5, active=active)
    np.testing.assert_allclose(u[0], [0.1, 0.0, -0.1, -0.05 + 0.05])
    np.testing.assert_allclose(u[1], [0.0, 0.0, 0.05, 0.025 + 0.05])


def test_active_broadcasts_over_draws():
    shocks = np.ones((3, 3))
    u = ar1_paths(shocks, 1.0, 0.5, active=np.array([False, True, True]))
    np.testing.assert_allclose(u, np.tile([0.0, 1.0, 1.5], (3, 1)))


def test_start_continues_a_path():
    shocks = np.random.default_rng(3).standard_normal((5, 10))
    whole = ar1_paths(shocks, 0.15, 0.9)
    head = ar1_paths(shocks[:, :4], 0.15, 0.9)
    tail = ar1_paths(shocks[:, 4:], 0.15, 0.9, start=head[:, -1])
    np.testing.assert_array_equal(np.hstack([head, tail]), whole)


def test_sigma_and_phi_vary_per_draw():
    shocks = np.ones((2, 2))
    u = ar1_paths(shocks, np.array([1.0, 2.0]), np.array([0.5, 0.0]))
    np.testing.assert_allclose(u, [[1.0, 1.5], [2.0, 2.0]])
