"""The registry of query-selection strategies and `select`, its entry point.

The paper's strategies (section 3.2): `random`, `ae-error`, `uniform`,
`multi-normal`, `uniform-cluster` and `multi-normal-cluster`, the last four
through Algorithm 1 (`latens.sampling.algorithm`). Beyond the paper, on the
same codes: `kcenter` (Sener & Savarese 2018), `typiclust` (Hacohen et al.
2022), `probcover` (Yehuda et al. 2022), `cluster-medoid`,
`balanced-medoid` and `capped-medoid` (`latens.sampling.deterministic`);
and, once some images are labelled, `margin` and `diverse-margin`
(`latens.sampling.continuation`).

Every strategy is called as `strategy(z, n, *, seed=0, errors=None,
labelled=None, **options)`, checks its input, and returns an int64 array
of exactly n distinct indices into z, in the order a person should label
them. `labelled` names codes already labelled: the strategies that continue
from them (`CONTINUING`) choose the next n among the others, so that the
labelled and the new codes together follow the rule (TypiClust's
continuation, Hacohen et al. 2022); the others refuse it. Each works
on the codes moved and scaled to unit spread (`validation.standardise`;
given lengths such as `threshold` are scaled alike), so a choice does not
depend on the codes' units, and any finite codes work. Codes wider than
`principal.WIDE` dimensions, of any kind (SimCLR's conv maps, a code
size above 256), are then replaced by their leading principal components
(`latens.sampling.principal.narrow`), which keeps a choice among 50,000
of them to seconds; given lengths are compared with distances there,
which are never longer, and a choice in such codes depends on the seed
through the projection, also for `kcenter`.
"""

import functools
import inspect
import types

import numpy as np

from latens import checks
from latens.sampling import algorithm
from latens.sampling import clustering
from latens.sampling import continuation
from latens.sampling import deterministic
from latens.sampling import principal
from latens.sampling import validation

_REGISTRY = {}
# Options that are lengths in the space of the codes.
_LENGTHS = ("threshold", "delta")
# Read-only view: name -> strategy callable, in registration order.
STRATEGIES = types.MappingProxyType(_REGISTRY)


def select(strategy, z, n, *, seed=0, errors=None, labelled=None, **options):
    """Chooses which n codes to label first.

    Args:
        strategy: a name in `STRATEGIES`.
        z: float array `[N, L]` of finite latent codes.
        n: number of codes to choose, 1..N.
        seed: non-negative int; the same seed gives the same choice.
        errors: float array `[N]` of per-example reconstruction errors;
            required by `ae-error`.
        labelled: int array `[M]` of the codes already labelled (None: none);
            the choice is among the others, `CONTINUING` strategies only.
        **options: the strategy's options (its `options` attribute lists
            them), e.g. `n_clusters` (None: chosen from the data), `clusters`
            (a precomputed assignment `[N]`), `threshold` (None: derived from
            the data), `hit`, `delta`, `purity`, `n_neighbors`.

    Returns:
        int64 array `[n]` of distinct indices into z, in selection order: a
        person who labels only the first k gets the strategy's best k.

    Raises:
        ValueError: unknown strategy or option, or bad input.
    """
    checks.one_of("strategy", strategy, STRATEGIES)
    return STRATEGIES[strategy](z, n, seed=seed, errors=errors, labelled=labelled, **options)


def _register(name):
    """Wraps an implementation `(z, n, [*, seed], [errors], **options)` into a
    checked strategy with the shared signature and registers it."""

    def register(implementation):
        parameters = inspect.signature(implementation).parameters
        options = tuple(p for p, spec in parameters.items()
                        if spec.kind is inspect.Parameter.KEYWORD_ONLY and p not in ("seed", "errors", "labelled"))
        takes_seed = "seed" in parameters
        takes_errors = "errors" in parameters
        takes_labelled = "labelled" in parameters

        @functools.wraps(implementation)
        def strategy(z, n, *, seed=0, errors=None, labelled=None, **given):
            unknown = sorted(set(given) - set(options))
            if unknown:
                raise ValueError(f"unknown option {', '.join(map(repr, unknown))} of strategy {name!r}; its "
                                 f"options must be {'among ' + ', '.join(options) if options else 'none'}")
            z, scale = validation.standardise(validation.check_codes(z))
            for length in _LENGTHS:  # Lengths the caller gave in the codes' own units.
                if given.get(length) is not None:
                    given[length] = validation.check_positive(given[length], length) / scale
            labelled = validation.check_labelled(labelled, len(z))
            if len(labelled) and not takes_labelled:
                raise ValueError(f"strategy {name!r} does not continue from labelled codes; those that do: "
                                 f"{', '.join(sorted(CONTINUING))}")
            n = validation.check_count(n, len(z) - len(labelled), "n")
            seed = validation.check_seed(seed)
            if errors is not None:
                errors = validation.check_errors(errors, len(z))
            elif takes_errors:
                raise ValueError(f"Strategy {name!r} needs errors, the per-example "
                                 f"reconstruction errors [N].")
            z = principal.narrow(z, seed=seed)  # After the checks: on wide codes it takes seconds.
            extra = {"seed": seed} if takes_seed else {}
            if takes_errors:
                extra["errors"] = errors
            if len(labelled):
                extra["labelled"] = labelled
            return np.asarray(implementation(z, n, **extra, **given), dtype=np.int64)

        strategy.options = options
        strategy.continues = takes_labelled
        _REGISTRY[name] = strategy
        return strategy

    return register


@_register("random")
def random_sample(z, n, *, seed, labelled=()):
    """Uniformly random codes, without replacement (the paper's baseline); with `labelled`, among the others."""
    if len(labelled):
        return np.random.default_rng(seed).choice(np.setdiff1d(np.arange(len(z)), labelled), n, replace=False)
    return np.random.default_rng(seed).choice(len(z), n, replace=False)


@_register("ae-error")
def ae_error(z, n, *, errors):
    """The n codes with the largest reconstruction error, ranked over all N.

    (The authors' code ranked only the first ~800 examples.) Ties: lower
    index first. Deterministic.
    """
    del z  # Unused: the ranking needs only the errors.
    return np.argsort(-errors, kind="stable")[:n]


@_register("uniform")
def uniform(z, n, *, seed, threshold=None, hit="nearest"):
    """Algorithm 1 with p_S uniform over the box min..max of all codes."""
    return _algorithm1(z, n, "uniform", seed=seed, threshold=threshold, hit=hit)


@_register("multi-normal")
def multi_normal(z, n, *, seed, threshold=None, hit="nearest"):
    """Algorithm 1 with p_S the normal N(mean, cov) of all codes."""
    return _algorithm1(z, n, "multi-normal", seed=seed, threshold=threshold, hit=hit)


@_register("uniform-cluster")
def uniform_cluster(z, n, *, seed, threshold=None, hit="nearest", n_clusters=None, clusters=None):
    """Algorithm 1 per Ward cluster, p_S uniform over each cluster's box."""
    return _algorithm1(z, n, "uniform", seed=seed, threshold=threshold, hit=hit,
                       per_cluster=True, n_clusters=n_clusters, clusters=clusters)


@_register("multi-normal-cluster")
def multi_normal_cluster(z, n, *, seed, threshold=None, hit="nearest", n_clusters=None,
                         clusters=None):
    """Algorithm 1 per Ward cluster, p_S the normal of each cluster's codes."""
    return _algorithm1(z, n, "multi-normal", seed=seed, threshold=threshold, hit=hit,
                       per_cluster=True, n_clusters=n_clusters, clusters=clusters)


_register("kcenter")(deterministic.kcenter)
_register("typiclust")(deterministic.typiclust)
_register("probcover")(deterministic.probcover)
_register("cluster-medoid")(deterministic.cluster_medoid)
_register("balanced-medoid")(deterministic.balanced_medoid)
_register("capped-medoid")(deterministic.capped_medoid)
_register("margin")(continuation.margin)
_register("diverse-margin")(continuation.diverse_margin)
# The strategies that choose the next codes knowing which are labelled.
CONTINUING = frozenset(name for name, strategy in _REGISTRY.items() if strategy.continues)


def _algorithm1(z, n, distribution, *, seed, threshold, hit, per_cluster=False, n_clusters=None,
                clusters=None):
    # Options are checked before the clustering, which may take a while.
    if threshold is not None:
        threshold = validation.check_positive(threshold, "threshold")
    checks.one_of("hit", hit, algorithm.HITS)
    if per_cluster:
        labels = clustering.resolve_clusters(z, clusters=clusters, n_clusters=n_clusters, seed=seed, n=n)
    else:
        labels = np.zeros(len(z), dtype=np.int64)
    return algorithm.sample_clusters(z, n, labels, distribution=distribution, seed=seed,
                                     threshold=threshold, hit=hit)
