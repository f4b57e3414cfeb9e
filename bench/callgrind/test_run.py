"""The comparison behind the instruction-count gate (run.py's compare), without valgrind."""

import unittest

from run import IMPROVEMENT_NOTE_PCT, compare

BASE = {"parse-text-20": 1000.0, "deflate-300": 40000.0}
REFRESH = "bench/callgrind/run.py --json bench/callgrind/baseline.json"


class Compare(unittest.TestCase):
    def test_same_counts_pass_silently(self):
        changes, messages, failed = compare(dict(BASE), BASE, 2, REFRESH)
        self.assertEqual(changes, {"parse-text-20": 0.0, "deflate-300": 0.0})
        self.assertEqual(messages, [])
        self.assertFalse(failed)

    def test_growth_over_the_limit_fails_and_names_the_workload(self):
        _, messages, failed = compare({**BASE, "deflate-300": 42000.0}, BASE, 2, REFRESH)
        self.assertTrue(failed)
        self.assertIn("deflate-300", messages[0])
        self.assertIn("5.00 %", messages[0])
        self.assertIn(REFRESH, messages[-1])

    def test_growth_within_the_limit_passes(self):
        _, messages, failed = compare({**BASE, "deflate-300": 40600.0}, BASE, 2, REFRESH)
        self.assertFalse(failed)
        self.assertEqual(messages, [])

    def test_without_a_limit_nothing_fails(self):
        _, _, failed = compare({**BASE, "deflate-300": 80000.0, "new": 1.0}, BASE, None,
                               REFRESH)
        self.assertFalse(failed)

    def test_a_workload_missing_from_the_baseline_fails(self):
        _, messages, failed = compare({**BASE, "new": 1.0}, BASE, 2, REFRESH)
        self.assertTrue(failed)
        self.assertIn("new has no count in the baseline", messages)

    def test_a_much_cheaper_workload_gets_a_refresh_note_but_passes(self):
        cheaper = BASE["parse-text-20"] * (1 - (IMPROVEMENT_NOTE_PCT + 1) / 100)
        _, messages, failed = compare({**BASE, "parse-text-20": cheaper}, BASE, 2, REFRESH)
        self.assertFalse(failed)
        self.assertTrue(messages[0].startswith("note: parse-text-20 runs"))
        self.assertIn(REFRESH, messages[-1])

    def test_a_slightly_cheaper_workload_gets_no_note(self):
        cheaper = BASE["parse-text-20"] * (1 - (IMPROVEMENT_NOTE_PCT - 1) / 100)
        _, messages, _ = compare({**BASE, "parse-text-20": cheaper}, BASE, 2, REFRESH)
        self.assertEqual(messages, [])


if __name__ == "__main__":
    unittest.main()
