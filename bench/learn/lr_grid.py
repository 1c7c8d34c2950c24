#!/usr/bin/env python3
"""adfunnel LR on the anchors' five data sets, selected like the anchor.

For each data set: for min_count in {1, 2, 5} and l2 = 1/C for the anchor's
C grid {0.01 .. 3}, train with `adfunnel train --model lr` (train split only,
early stopping on valid), pick l2 by the lowest valid logloss per min_count,
then min_count by the highest valid AUC (ties: smaller), and report that
model's test AUC / logloss next to scikit-learn's from a JSON written by
../shared/anchors/lr_sklearn.py in the same session.

Usage (from the repository root):
  /usr/bin/python3 ../shared/anchors/lr_sklearn.py --out /tmp/lr_sklearn.json
  python3 bench/learn/lr_grid.py --bin build-rel/adfunnel \
      --sklearn /tmp/lr_sklearn.json [--optimizer ftrl] [--out DIR]
Only the standard library is used.
"""
import argparse
import json
import os
import subprocess
import sys
import time

DATASETS = ["criteo", "avazu", "movielens", "talkingdata", "ipinyou"]
MIN_COUNTS = [1, 2, 5]
C_GRID = [0.01, 0.03, 0.1, 0.3, 1, 3]


def train(args, ds, mc, c, out_dir):
    tag = "%s_mc%d_C%g_%s" % (ds, mc, c, args.optimizer)
    model = os.path.join(out_dir, tag + ".afm")
    result = os.path.join(out_dir, tag + ".json")
    cmd = [args.bin, "train", "--spec", "pipelines/features/recipes/%s.lua" % ds,
           "--data", args.data, "--model", "lr", "--optimizer", args.optimizer,
           "--min-count", str(mc), "--l2", "%.10g" % (1.0 / c),
           "--out", model, "--result", result, "--seed", str(args.seed)]
    cmd += args.extra
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(result) as f:
        return json.load(f), model


def calibrate(args, ds, model, out_dir):
    """Isotonic calibration fitted on valid; test metrics before and after
    (adfunnel eval writes eval.json with both)."""
    spec = "pipelines/features/recipes/%s.lua" % ds
    subprocess.run([args.bin, "calibrate", "--spec", spec, "--data", args.data,
                    "--model", model, "--method", "isotonic"], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    cal = model[:-4] + ".isotonic.afm"
    edir = os.path.join(out_dir, "eval_" + ds)
    subprocess.run([args.bin, "eval", "--spec", spec, "--data", args.data, "--model", model,
                    "--calibrator", cal, "--out", edir], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(os.path.join(edir, "eval.json")) as f:
        ev = json.load(f)
    raw, c = ev["model_output"], ev["calibrated"]
    return {"test_positives": raw["positives"], "ece_before": raw["ece"],
            "ratio_before": raw["predicted_over_observed"], "ece_after": c["ece"],
            "ratio_after": c["predicted_over_observed"], "auc_after": c["auc"],
            "logloss_after": c["logloss"], "report": os.path.join(edir, "report.html")}


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default="build-rel/adfunnel")
    ap.add_argument("--data", default="../shared/data")
    ap.add_argument("--sklearn", help="lr_sklearn.py output of this session")
    ap.add_argument("--optimizer", default="ftrl")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--datasets", default=",".join(DATASETS))
    ap.add_argument("--out", default="/tmp/adfunnel_lr_grid")
    ap.add_argument("--calibrate", action="store_true",
                    help="also fit isotonic on valid and evaluate it on test")
    ap.add_argument("extra", nargs="*", help="more adfunnel train options (after --)")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    ref = json.load(open(args.sklearn)) if args.sklearn else {}
    summary = {}
    for ds in args.datasets.split(","):
        t0 = time.time()
        per_mc = {}
        for mc in MIN_COUNTS:
            best = None
            for c in C_GRID:
                r, model = train(args, ds, mc, c, args.out)
                key = r["valid"]["logloss"]
                if best is None or key < best[0]:
                    best = (key, c, r, model)
            per_mc[mc] = best
        mc_star = None
        for mc in MIN_COUNTS:
            if mc_star is None or per_mc[mc][2]["valid"]["auc"] > per_mc[mc_star][2]["valid"]["auc"]:
                mc_star = mc
        _, c, r, model = per_mc[mc_star]
        row = {"min_count": mc_star, "C": c, "l2": 1.0 / c, "model": model,
               "valid_auc": r["valid"]["auc"], "test_auc": r["test"]["auc"],
               "test_logloss": r["test"]["logloss"], "test_positives": r["test"]["positives"],
               "best_epoch": r["best_epoch"], "seconds": round(time.time() - t0, 1)}
        if ds in ref:
            row["sklearn_min_count"] = ref[ds]["min_count"]
            row["sklearn_C"] = ref[ds]["C"]
            row["sklearn_test_auc"] = ref[ds]["test"]["auc"]
            row["sklearn_test_logloss"] = ref[ds]["test"]["logloss"]
            row["delta_auc"] = row["test_auc"] - row["sklearn_test_auc"]
            row["pass"] = row["delta_auc"] >= -0.002
        if args.calibrate:
            row["isotonic"] = calibrate(args, ds, model, args.out)
            iso = row["isotonic"]
            print("%-12s isotonic: test ECE %.4f -> %.4f, pred/obs %.3f -> %.3f "
                  "(%d test positives)%s" % (
                      ds, iso["ece_before"], iso["ece_after"], iso["ratio_before"],
                      iso["ratio_after"], iso["test_positives"],
                      "" if iso["test_positives"] < 1000 else
                      ("  PASS" if iso["ece_after"] <= 0.01 and
                       abs(iso["ratio_after"] - 1) <= 0.05 else "  FAIL")), flush=True)
        summary[ds] = row
        print("%-12s mc=%d C=%-5g valid_auc=%.5f test_auc=%.5f logloss=%.5f%s (%.1fs)" % (
            ds, mc_star, c, row["valid_auc"], row["test_auc"], row["test_logloss"],
            "  sklearn %.5f (mc=%d C=%g) delta %+.5f %s" % (
                row["sklearn_test_auc"], row["sklearn_min_count"], row["sklearn_C"],
                row["delta_auc"], "PASS" if row["pass"] else "FAIL") if ds in ref else "",
            row["seconds"]), flush=True)
    with open(os.path.join(args.out, "summary_%s.json" % args.optimizer), "w") as f:
        json.dump(summary, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
