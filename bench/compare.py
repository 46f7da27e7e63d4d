#!/usr/bin/python3
"""Compare deepc with PyTorch on the same models, the same batches and the same machine, in one run.

    bench/compare.py --models mlp [--batch 128] [--threads 2] [--configs default,ob1,passive]

deepc runs build/bench/bench_train (2 threads).  PyTorch runs ../shared/peers/torch_bench.py's
single-model child in a fresh process per thread-pool setting (default = OMP 2 + OpenBLAS 2,
ob1 = OpenBLAS 1 thread, passive = OMP_WAIT_POLICY=PASSIVE); its best setting per measure is the
one compared against.  Both follow the same work definition (see bench_train.c).  Prints a table
and writes bench/results/compare-<models>.json.  Needs python3-torch (bash scripts/setup.sh --bench).
"""
import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PEERS = os.path.join(os.path.dirname(ROOT), 'shared', 'peers')
CONFIGS = {'default': {}, 'ob1': {'OPENBLAS_NUM_THREADS': '1'}, 'passive': {'OMP_WAIT_POLICY': 'PASSIVE'}}
# PyTorch's best training setting per model on this kind of machine (../shared/peers/torch_summary.md),
# for --best-only runs of the slow models.
BEST_TRAIN = {'mlp': 'passive', 'lenet5': 'ob1', 'alexnet_mini': 'passive', 'vgg16': 'default',
              'googlenet_mini': 'ob1', 'resnet20': 'default', 'resnet18': 'default'}


def result_line(out):
    for line in out.splitlines():
        if line.startswith('RESULT '):
            return json.loads(line[7:])
    raise RuntimeError('no RESULT line in:\n' + out)


def run_deepc(model, batch, threads, min_time):
    cmd = [os.path.join(ROOT, 'build', 'bench', 'bench_train'), '--model', model, '--batch', str(batch),
           '--threads', str(threads), '--min-time', str(min_time)]
    out = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=True).stdout
    print(out, end='')
    return result_line(out)


def run_torch(model, threads, config, min_time):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads))
    env.update(CONFIGS[config])
    cmd = ['/usr/bin/python3', os.path.join(PEERS, 'torch_bench.py'), '--one', model, '--threads', str(threads),
           '--what', 'train,infer,latency', '--min-time', str(min_time)]
    out = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, text=True, check=True).stdout
    return result_line(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--models', default='mlp')
    ap.add_argument('--batch', type=int, default=128)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--configs', default='default,ob1,passive')
    ap.add_argument('--min-time', type=float, default=3.0)
    ap.add_argument('--best-only', action='store_true',
                    help="measure PyTorch only at its known best training setting per model (faster)")
    a = ap.parse_args()
    if a.batch != 128:
        print('note: the PyTorch peer always measures batch 128', file=sys.stderr)
    rows = []
    for model in a.models.split(','):
        d = run_deepc(model, a.batch, a.threads, a.min_time)
        tr = {}
        for cfg in ([BEST_TRAIN.get(model, 'default')] if a.best_only else a.configs.split(',')):
            tr[cfg] = run_torch(model, a.threads, cfg, a.min_time)
            print(f"pytorch {model} [{cfg}]: train {tr[cfg]['train']['img_per_s']:.0f} img/s, "
                  f"infer {tr[cfg]['infer']['img_per_s']:.0f} img/s, "
                  f"latency {tr[cfg]['latency']['median_ms']:.3f} ms", flush=True)
        best_train = max(tr, key=lambda c: tr[c]['train']['img_per_s'])
        best_infer = max(tr, key=lambda c: tr[c]['infer']['img_per_s'])
        best_lat = min(tr, key=lambda c: tr[c]['latency']['median_ms'])
        rows.append({'model': model, 'deepc': d, 'torch': tr, 'best': {
            'train': best_train, 'infer': best_infer, 'latency': best_lat}})
    print()
    print(f"{'model':<10} {'measure':<22} {'deepc':>12} {'PyTorch best':>14} {'setting':>8} {'ratio':>7}")
    for r in rows:
        d, t, b = r['deepc'], r['torch'], r['best']
        pt = t[b['train']]['train']['img_per_s']
        pi = t[b['infer']]['infer']['img_per_s']
        pl = t[b['latency']]['latency']['median_ms']
        print(f"{r['model']:<10} {'train img/s':<22} {d['train_img_per_s']:>12.0f} {pt:>14.0f} {b['train']:>8} "
              f"{d['train_img_per_s'] / pt:>6.2f}x")
        print(f"{'':<10} {'inference img/s':<22} {d['infer_img_per_s']:>12.0f} {pi:>14.0f} {b['infer']:>8} "
              f"{d['infer_img_per_s'] / pi:>6.2f}x")
        print(f"{'':<10} {'batch-1 latency ms':<22} {d['latency_median_ms']:>12.3f} {pl:>14.3f} {b['latency']:>8} "
              f"{pl / d['latency_median_ms']:>6.2f}x")
        print(f"{'':<10} {'peak RSS MiB':<22} {d['rss_peak_mib']:>12.1f} "
              f"{t[b['train']]['rss_peak_mib']:>14.1f}")
    os.makedirs(os.path.join(HERE, 'results'), exist_ok=True)
    path = os.path.join(HERE, 'results', f"compare-{a.models.replace(',', '-')}.json")
    with open(path, 'w') as f:
        json.dump({'date': time.strftime('%Y-%m-%d %H:%M:%S'), 'batch': a.batch, 'threads': a.threads,
                   'rows': rows}, f, indent=1)
    print(f'\nwritten {path}  (ratios > 1 favour deepc; latency ratio = PyTorch ms / deepc ms)')


if __name__ == '__main__':
    main()
