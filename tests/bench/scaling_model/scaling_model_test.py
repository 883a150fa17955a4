#!/usr/bin/env python3
"""BenchScalingModel: bench/scaling_model.py on fixed inputs against figures worked out by hand
(in the comments). Usage: scaling_model_test.py BENCH_DIR"""
import io
import json
import os
import sys
import tempfile
import unittest
from contextlib import redirect_stdout

sys.path.insert(0, sys.argv.pop(1) if len(sys.argv) > 1 else
                os.path.join(os.path.dirname(__file__), "..", "..", "..", "bench"))
import scaling_model as m  # noqa: E402


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


class AllReduce(unittest.TestCase):
    def test_ring(self):
        # 2*3*1e-5 + 2*3/4 * 1e8 * 1e-9 = 6e-5 + 0.15
        self.assertAlmostEqual(m.ring_allreduce(1e8, 4, 1e-5, 1e-9), 0.15006, places=12)
        self.assertEqual(m.ring_allreduce(1e8, 1, 1e-5, 1e-9), 0.0)

    def test_hierarchical(self):
        f = m.Fabric("t", 4, 1e-6, 1e-10, 1e-5, 1e-9, nics=4)
        # inside a node (P <= 4): a plain ring, 2*1*1e-6 + 1 * 4e8 * 1e-10
        self.assertAlmostEqual(f.allreduce(4e8, 2), 0.040002, places=12)
        # P = 16, M = 4 nodes: intra 2*3*1e-6 + 2*3/4*4e8*1e-10 = 0.060006,
        # inter 2*3*1e-5 + 2*3/4*4e8*1e-9/4 = 0.15006
        self.assertAlmostEqual(f.allreduce(4e8, 16), 0.210066, places=12)


class Buckets(unittest.TestCase):
    def test_parameters(self):
        # the trainer prints 2357972 parameters for Conv5_FC3 at 1@64x80x64
        self.assertEqual(m.parameter_count((64, 80, 64)), 2357972)

    def test_t1_linear_buckets(self):
        # 1@169x208x179: pooled to 6x7x6, fc1 weight 128*6*7*6*1300*4 bytes alone in its bucket;
        # before it fc3, fc2 and fc1's bias: (102 + 65050 + 1300) * 4; after it the convolutions
        # and norms: 294720 * 4 (allreduce_bench: 169.2 MB in 3 buckets)
        b = m.conv5_fc3_buckets((169, 208, 179))
        self.assertEqual([n for n, _ in b], [265808, 167731200, 1178880])
        self.assertEqual(b[-1][1], 1.0)  # the first convolution's gradient comes last
        self.assertLess(b[1][1], 0.01)  # the fully connected layers are a sliver of backward

    def test_one_bucket_when_it_fits(self):
        # 1@64x80x64: 2357972 * 4 = 9431888 bytes < 25 MiB
        self.assertEqual(m.conv5_fc3_buckets((64, 80, 64)), [(9431888, 1.0)])


class Overlap(unittest.TestCase):
    buckets = [(1e8, 0.0), (1e7, 1.0)]

    def test_hidden(self):
        # P = 2, beta 1e-9: 0.1 s and 0.01 s; the first ends at 0.1 < backward 0.5, the second
        # starts at 0.5: 0.01 s exposed
        f = m.Fabric("t", 2, 0.0, 1e-9)
        self.assertAlmostEqual(m.exposed_communication(self.buckets, 0.5, f, 2, True), 0.01)
        self.assertAlmostEqual(m.exposed_communication(self.buckets, 0.5, f, 2, False), 0.11)
        self.assertEqual(m.exposed_communication(self.buckets, 0.5, f, 1, True), 0.0)

    def test_overlap_needs_a_core_left(self):
        self.assertFalse(m.overlaps_backward(2, 1, 2))   # 2 ranks x 1 thread on 2 cores
        self.assertFalse(m.overlaps_backward(1, 1, 1))   # an emulated node of one core
        self.assertTrue(m.overlaps_backward(2, 1, 4))
        self.assertTrue(m.overlaps_backward(4, 15, 64))  # a core per rank left on a 64-core node
        self.assertFalse(m.overlaps_backward(4, 16, 64))

    def test_slow_link(self):
        # beta 1e-8: 1.0 s and 0.1 s; the second waits for the first: ends at 1.1, 0.6 s exposed
        f = m.Fabric("t", 2, 0.0, 1e-8)
        self.assertAlmostEqual(m.exposed_communication(self.buckets, 0.5, f, 2, True), 0.6)


class Epoch(unittest.TestCase):
    def work(self):
        return m.Workload(batch=2, compute=1.0, backward_share=0.5, optimizer=0.1, eval_sample=0.2,
                          checkpoint=0.3, buckets=[(1e8, 0.0), (1e7, 1.0)])

    def test_update_plan(self):
        self.assertEqual(m.update_plan(10, 2, 1), [2, 2, 2, 2, 2])
        self.assertEqual(m.update_plan(9, 2, 4), [2, 1])
        self.assertEqual(m.update_plan(10, 2, 8), [2])

    def test_one_rank(self):
        # 5 updates x (1.0 + 0.1) + 0.2 x (10 + 3) + 0.3 = 5.5 + 2.6 + 0.3
        t, parts = m.epoch_time(self.work(), m.Fabric("t", 2, 0.0, 1e-9), 10, 3, 1, True)
        self.assertAlmostEqual(t, 8.4)
        self.assertEqual(parts["updates"], 5)

    def test_partial_update(self):
        # 9 images: 4 full updates and one of 1 sample (compute 0.5): 4.5 + 5 x 0.1 + 2.4 + 0.3
        t, _ = m.epoch_time(self.work(), m.Fabric("t", 2, 0.0, 1e-9), 9, 3, 1, True)
        self.assertAlmostEqual(t, 7.7)

    def test_two_ranks_and_efficiency(self):
        # 3 updates x (1.0 + 0.1 + 0.01 exposed) + 0.2 x (5 + 2) + 0.3 = 3.33 + 1.4 + 0.3 = 5.03;
        # efficiency 8.4 / (2 x 5.03)
        rows = m.scaling_rows(self.work(), m.Fabric("t", 2, 0.0, 1e-9), 10, 3, [1, 2], True)
        self.assertAlmostEqual(rows[1]["epoch"], 5.03)
        self.assertAlmostEqual(rows[1]["exposed"], 0.03)
        self.assertAlmostEqual(rows[1]["efficiency"], 8.4 / 10.06)
        best, fastest = m.recommend(rows, 0.8)
        self.assertEqual((best["ranks"], fastest["ranks"]), (2, 2))
        best, _ = m.recommend(rows, 0.9)
        self.assertEqual(best["ranks"], 1)

    def test_gpu_workload(self):
        # fp32: 4 / 46.3 and 16 / 53.4 s per step, linear in the batch through both
        w = m.gpu_workload("fp32", 16, 1 / 3, 0.0)
        self.assertAlmostEqual(w.fixed + w.compute, 16 / 53.4, places=12)
        w = m.gpu_workload("fp32", 4, 1 / 3, 0.0)
        self.assertAlmostEqual(w.fixed + w.compute, 4 / 46.3, places=12)
        self.assertAlmostEqual(w.eval_sample, (4 / 46.3) / 4 / 3, places=12)


class Fit(unittest.TestCase):
    def test_recovers_alpha_beta(self):
        alpha, beta = 2e-5, 5e-10
        points = [(p, n, m.ring_allreduce(n, p, alpha, beta))
                  for p, n in [(2, 1e6), (2, 1e7), (2, 1e8), (4, 5e7)]]
        a, b = m.fit_alpha_beta(points)
        self.assertAlmostEqual(a / alpha, 1.0, places=9)
        self.assertAlmostEqual(b / beta, 1.0, places=9)

    def test_records_take_the_median(self):
        text = ("fabric\tranks\tbytes\tseconds\tload\n"
                "shm\t2\t1000000\t0.0011\t0.1\nshm\t2\t1000000\t0.0100\t0.1\nshm\t2\t1000000\t0.0012\t0.1\n"
                "shm\t2\t2000000\t0.0022\t0.1\n")
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "r.tsv")
            write(path, text)
            fits = m.fits_from_records(m.read_records(path))
        # medians 0.0012 and 0.0022: t = 2 alpha + n beta through both points: beta 1e-9,
        # alpha (0.0012 - 0.001) / 2 = 1e-4
        self.assertAlmostEqual(fits["shm"]["beta"], 1e-9, places=15)
        self.assertAlmostEqual(fits["shm"]["alpha"], 1e-4, places=12)


class Calibration(unittest.TestCase):
    def test_from_log_and_tsv(self):
        log = ("split 0: 12 training and 4 validation images, 1 part(s) per image (image mode)\n"
               "split 0: Conv5_FC3, 2357972 parameters, on cpu, 1 thread(s) per rank\n"
               "  phase        seconds   share    calls   ms/call   slowest rank\n"
               "  data wait      0.010    0.1%        4     1.000   0 (0.010 s)\n"
               "  forward        1.000   12.5%       12    83.333   0 (1.000 s)\n"
               "  backward       2.000   25.0%       12   166.667   0 (2.000 s)\n"
               "  optimizer      1.000   12.5%       12    83.333   0 (1.000 s)\n"
               "  evaluation     3.000   37.5%        2  1500.000   0 (3.000 s)\n"
               "  checkpoint     1.000   12.5%        2   500.000   0 (1.000 s)\n"
               "split 0 throughput 4 samples/s after the first epoch (3 over all epochs)\n")
        tsv = "epoch\titeration\ttime\tloss_train\n0\t5\t10.0\t0.7\n1\t5\t16.0\t0.7\n2\t5\t22.0\t0.7\n"
        with tempfile.TemporaryDirectory() as d:
            write(os.path.join(d, "log"), log)
            write(os.path.join(d, "tsv"), tsv)
            cal = m.calibrate(os.path.join(d, "log"), os.path.join(d, "tsv"), 2, (64, 80, 64))
        # steady epoch 6 s; training 12 / 4 = 3 s in 6 updates: 0.5 s each, 3/4 of it forward and
        # backward; the other 3 s: checkpoint 1/4 of it, evaluation 2.25 s over 16 images
        self.assertAlmostEqual(cal["steady_epoch"], 6.0)
        self.assertAlmostEqual(cal["compute"], 0.375)
        self.assertAlmostEqual(cal["optimizer"], 0.125)
        self.assertAlmostEqual(cal["backward_share"], 2 / 3)
        self.assertAlmostEqual(cal["checkpoint"], 0.75)
        self.assertAlmostEqual(cal["eval_sample"], 2.25 / 16)
        self.assertEqual(cal["parameters"], 2357972)
        # the same workload moved nowhere gives back its own steady epoch at 1 rank
        work = m.workload_from_calibration(cal)
        t, _ = m.epoch_time(work, m.Fabric("t", 2, 0.0, 1e-9), 12, 4, 1, True)
        self.assertAlmostEqual(t, 6.0)

    def test_table_runs(self):
        out = io.StringIO()
        with redirect_stdout(out):
            m.main(["table", "--train", "800", "--valid", "200", "--batch", "4"])
        text = out.getvalue()
        self.assertIn("| 512 | 64 |", text)
        self.assertIn("recommendation for 800 training images", text)


if __name__ == "__main__":
    unittest.main(verbosity=1)
