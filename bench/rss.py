#!/usr/bin/python3
"""Peak memory (RSS) of training each small-image model: deepc against PyTorch.

    bench/rss.py [--models mlp,lenet5,...] [--batch 128]

Each side trains the model in a fresh process on the same batches of 128 (deepc:
build/bench/bench_train, 2 threads; PyTorch: ../shared/peers/torch_bench.py --one MODEL
--what train, 2 threads) and the process's peak resident set (ru_maxrss, from wait4) is
reported, together with what the process itself prints.  Throughput is not the point here (use
bench/compare.py for that), so the runs are short.  Writes bench/results/rss.json and prints a
markdown table.
"""
import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PEERS = os.path.join(os.path.dirname(ROOT), 'shared', 'peers')
MODELS = 'mlp,lenet5,alexnet_mini,vgg16,googlenet_mini,resnet20,resnet18'


def peak_rss_mib(cmd, env=None):
    """Run cmd, return (peak RSS of that process in MiB, stdout)."""
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env)
    out = p.stdout.read()
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        sys.exit(f'rss.py: {" ".join(cmd)} failed with status {p.returncode}')
    return ru.ru_maxrss / 1024.0, out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--models', default=MODELS)
    ap.add_argument('--batch', type=int, default=128)
    a = ap.parse_args()
    rows = []
    for m in a.models.split(','):
        d, _ = peak_rss_mib([os.path.join(ROOT, 'build', 'bench', 'bench_train'), '--model', m,
                             '--batch', str(a.batch), '--threads', '2', '--min-time', '0.1'])
        env = dict(os.environ, OMP_NUM_THREADS='2', OPENBLAS_NUM_THREADS='2')
        t, _ = peak_rss_mib(['/usr/bin/python3', os.path.join(PEERS, 'torch_bench.py'), '--one', m,
                             '--threads', '2', '--what', 'train', '--min-time', '0.1'], env=env)
        rows.append({'model': m, 'deepc_mib': round(d, 1), 'pytorch_mib': round(t, 1)})
        print(f'{m:<15} deepc {d:8.1f} MiB   PyTorch {t:8.1f} MiB   ratio {t / d:5.2f}', flush=True)
    os.makedirs(os.path.join(HERE, 'results'), exist_ok=True)
    with open(os.path.join(HERE, 'results', 'rss.json'), 'w') as f:
        json.dump({'batch': a.batch, 'rows': rows}, f, indent=1)
    print('\n| model | deepc peak RSS (MiB) | PyTorch peak RSS (MiB) | PyTorch / deepc |')
    print('|---|---:|---:|---:|')
    for r in rows:
        print(f"| {r['model']} | {r['deepc_mib']:.1f} | {r['pytorch_mib']:.1f} | "
              f"{r['pytorch_mib'] / r['deepc_mib']:.2f} |")


if __name__ == '__main__':
    main()
