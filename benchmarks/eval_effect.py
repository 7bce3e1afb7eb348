"""Effect predictor quality on the real Open Bandit click logs (ZOZOTOWN, 60,000 impressions).

1. Click prediction: out-of-fold AUC, log-loss and expected calibration error
   (10 equal-count bins) of the logistic baseline, gradient boosting and the
   chosen calibrated model, on the same stratified folds of all six log files;
   and the chosen model and the baseline without the users' past activity.
2. Off-policy evaluation, validated as in the Open Bandit paper: estimate the
   production Thompson sampler's CTR from the uniform-random logs (IPW, SNIPW,
   DR) and compare with the CTR it actually got in its own logs.
3. Bandit replay: cumulative clicks of Thompson sampling and of uniform
   allocation over the items, each round paid by a logged impression of the
   chosen item (bootstrapped replay of the uniform logs).

    python -m benchmarks.eval_effect [--quick]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

from benchmarks.common import print_json_line, print_table
from pitchcraft.plugins.effect import bandit, ctr, obd, offline, ope

CHOSEN = "chosen (L2 logistic, CV strength, Platt)"


def click_models(repeats: int) -> dict[str, ctr.Scores]:
    frame = obd.impressions()
    clicks = frame["click"].to_numpy()
    no_activity = frame.assign(**dict.fromkeys(obd.AFFINITY, 0.0))  # what the features add
    makers = {
        "logistic baseline": (ctr.baseline_model, frame),
        "gradient boosting": (ctr.boosting_model, frame),
        CHOSEN: (ctr.chosen_model, frame),
        "chosen, without past activity": (ctr.chosen_model, no_activity),
        "baseline, without past activity": (ctr.baseline_model, no_activity),
    }
    results = {}
    for name, (make, rows) in makers.items():
        runs = [ctr.score(clicks, ctr.out_of_fold(make, rows, 5, seed)) for seed in range(repeats)]
        results[name] = ctr.Scores(
            auc=float(np.mean([r.auc for r in runs])),
            log_loss=float(np.mean([r.log_loss for r in runs])),
            ece=float(np.mean([r.ece for r in runs])),
        )
    print(
        f"\nClick prediction: {len(frame):,} impressions, {clicks.sum()} clicks, "
        f"5-fold out-of-fold, mean of {repeats} shuffles"
    )
    print_table(
        ["model", "AUC", "log-loss", "ECE"],
        [[n, f"{s.auc:.4f}", f"{s.log_loss:.5f}", f"{s.ece:.5f}"] for n, s in results.items()],
    )
    return results


def policy_evaluation(resamples: int) -> dict[str, dict[str, float]]:
    rows, errors = [], {}
    for campaign in obd.CAMPAIGNS:
        value = offline.evaluate(campaign, offline.thompson_policy(campaign), resamples)
        actual = offline.on_policy_ctr(campaign)
        errors[campaign] = {}
        for e in value.estimates:
            err = ope.relative_error(e.value, actual)
            errors[campaign][e.estimator] = err
            rows.append(
                [
                    campaign,
                    e.estimator.upper(),
                    f"{e.value:.5f}",
                    f"{e.ci_low:.5f}–{e.ci_high:.5f}",
                    f"{actual:.5f}",
                    round(err, 3),
                ]
            )
        rows.append(
            [
                campaign,
                "naive: uniform CTR",
                f"{value.logged_ctr:.5f}",
                "",
                "",
                round(ope.relative_error(value.logged_ctr, actual), 3),
            ]
        )
    print(
        "\nOff-policy evaluation of the Thompson sampler from the uniform logs "
        "(10,000 impressions each) vs its own logged CTR (10,000 impressions each)"
    )
    print_table(
        ["campaign", "estimator", "estimate", "95% CI", "actual BTS CTR", "relative error"], rows
    )
    return errors


def replay(rounds: int, seeds: int) -> dict[str, dict[str, float]]:
    results, rows = {}, []
    for campaign in obd.CAMPAIGNS:
        logs = obd.impressions(("random",), (campaign,))
        outcomes = [g["click"].to_numpy(float) for _, g in logs.groupby("item_id")]
        best = max(o.mean() for o in outcomes)
        totals = {
            policy: float(
                np.mean(
                    [
                        bandit.replay(outcomes, rounds, policy, (1.0, 1.0), seed)[-1]
                        for seed in range(seeds)
                    ]
                )
            )
            for policy in ("thompson", "uniform")
        }
        results[campaign] = totals
        oracle = best * rounds
        rows.append(
            [
                campaign,
                len(outcomes),
                rounds,
                round(totals["thompson"], 1),
                round(totals["uniform"], 1),
                round(totals["thompson"] / totals["uniform"], 2),
                round(oracle - totals["thompson"], 1),
                round(oracle - totals["uniform"], 1),
            ]
        )
    print(
        f"\nBandit replay over the items, {seeds} seeds "
        "(regret = best item's logged CTR x rounds - clicks)"
    )
    print_table(
        [
            "campaign",
            "items",
            "rounds",
            "clicks TS",
            "clicks uniform",
            "TS / uniform",
            "regret TS",
            "regret uniform",
        ],
        rows,
    )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one shuffle, fewer replays")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=FutureWarning)
    started = time.perf_counter()
    models = click_models(repeats=1 if args.quick else 3)
    errors = policy_evaluation(resamples=200 if args.quick else 1000)
    replays = replay(rounds=10_000 if args.quick else 30_000, seeds=3 if args.quick else 10)
    chosen = models[CHOSEN]
    base = models["logistic baseline"]
    figures: dict[str, object] = {
        "auc_model": round(chosen.auc, 4),
        "auc_baseline": round(base.auc, 4),
        "auc_gbdt": round(models["gradient boosting"].auc, 4),
        "auc_model_no_activity": round(models["chosen, without past activity"].auc, 4),
        "auc_baseline_no_activity": round(models["baseline, without past activity"].auc, 4),
        "logloss_model": round(chosen.log_loss, 5),
        "logloss_baseline": round(base.log_loss, 5),
        "ece_model": round(chosen.ece, 5),
        "ece_baseline": round(base.ece, 5),
    }
    for estimator in ope.ESTIMATORS:
        figures[f"ope_rel_error_{estimator}"] = round(errors["all"][estimator], 4)
        for campaign in ("men", "women"):
            figures[f"ope_rel_error_{estimator}_{campaign}"] = round(errors[campaign][estimator], 4)
    for campaign, totals in replays.items():
        figures[f"replay_clicks_thompson_{campaign}"] = round(totals["thompson"], 1)
        figures[f"replay_clicks_uniform_{campaign}"] = round(totals["uniform"], 1)
    figures["seconds"] = round(time.perf_counter() - started, 1)
    print()
    print_json_line(figures)


if __name__ == "__main__":
    main()
