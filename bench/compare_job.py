#!/usr/bin/python3
"""The whole training job, deepc against PyTorch, in one run on the same machine.

    bench/compare_job.py --model lenet5 --epochs 10 [--optimizer adam --lr 1e-3] [-- extra deepc flags]

Runs `build/deepc train` and ../shared/peers/torch_train.py (which picks PyTorch's best thread-pool
setting for the model) with the same model, epochs, batch, optimizer and learning rate, and prints
wall time, training images/s and test accuracy of each and the speed ratio.  Extra deepc-only
flags (e.g. --init xavier) follow a `--`.
"""
import argparse
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PEERS = os.path.join(os.path.dirname(ROOT), 'shared', 'peers')


def timed(cmd, env=None):
    t0 = time.time()
    out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env).stdout
    return time.time() - t0, out


def grab(pattern, text):
    m = re.search(pattern, text)
    return float(m.group(1)) if m else float('nan')


def main():
    argv = sys.argv[1:]
    extra = []
    if '--' in argv:
        extra = argv[argv.index('--') + 1:]
        argv = argv[:argv.index('--')]
    ap = argparse.ArgumentParser()
    ap.add_argument('--model', default='lenet5')
    ap.add_argument('--epochs', type=int, default=10)
    ap.add_argument('--batch', type=int, default=128)
    ap.add_argument('--optimizer', default='adam')
    ap.add_argument('--lr', type=float, default=1e-3)
    ap.add_argument('--seed', type=int, default=1)
    a = ap.parse_args(argv)
    common = ['--model', a.model, '--epochs', str(a.epochs), '--batch', str(a.batch), '--optimizer', a.optimizer,
              '--lr', str(a.lr), '--seed', str(a.seed)]
    dt, dout = timed([os.path.join(ROOT, 'build', 'deepc'), 'train', '--threads', '2', '--no-progress'] + common + extra)
    print(dout, end='')
    tt, tout = timed(['/usr/bin/python3', os.path.join(PEERS, 'torch_train.py'), '--threads', '2'] + common)
    print(tout, end='')
    d_acc, t_acc = grab(r'test accuracy ([0-9.]+)', dout), grab(r'test accuracy ([0-9.]+)', tout)
    d_ips, t_ips = grab(r'training ([0-9.]+) img/s', dout), grab(r'train img/s ([0-9.]+)', tout)
    print()
    print(f"{'':<8} {'wall s':>8} {'train img/s':>12} {'test acc':>9}")
    print(f"{'deepc':<8} {dt:>8.1f} {d_ips:>12.0f} {d_acc:>9.4f}")
    print(f"{'PyTorch':<8} {tt:>8.1f} {t_ips:>12.0f} {t_acc:>9.4f}")
    print(f"whole job: deepc {tt / dt:.2f}x faster; training steps {d_ips / t_ips:.2f}x")


if __name__ == '__main__':
    main()
