#!/usr/bin/env python3
# t/0200-python-client.t: the Python client's unittest suite (client/tests), run the way
# `python3 -m unittest discover -s client/tests -t client` runs it, reported as TAP: one line
# per test method (a failing subtest fails its method), tracebacks as diagnostics.
#
# Needs PGMCP_BIN and PGMCP_TEST_DSN (scripts/run-tests exports both); the HTTP tests also start
# `pgmcp --listen` and client/tests/sdk_server.mjs (the official MCP TypeScript SDK, installed
# by scripts/npm-install-interop). A watchdog bails out if the suite overruns.
import os
import sys
import threading
import time
import unittest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
CLIENT = os.path.join(ROOT, "client")
LIMIT = float(os.environ.get("PGMCP_CLIENT_TEST_LIMIT", "540"))

# Diagnostics the tests print go to stderr; keep them as TAP comments in order with results.
sys.stderr = sys.stdout


class TapResult(unittest.TestResult):
    def __init__(self):
        super().__init__()
        self.n = 0
        self.failed = 0
        self._problems = {}

    def _id(self, test):
        return test.id().replace("tests.", "", 1)

    def startTest(self, test):
        super().startTest(test)
        self._problems[test.id()] = []
        self._t0 = time.monotonic()

    def _problem(self, test, err, kind):
        self._problems.setdefault(test.id(), []).append(
            "%s:\n%s" % (kind, self._exc_info_to_string(err, test)))

    def addError(self, test, err):
        super().addError(test, err)
        if test.id() not in self._problems:          # setUpClass / module-level failures
            self._emit(False, self._id(test), ["error:\n" + self._exc_info_to_string(err, test)])
        else:
            self._problem(test, err, "error")

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._problem(test, err, "failure")

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            self._problem(test, err, "subtest %s" % subtest._subDescription())

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self.n += 1
        print("ok %d - %s # SKIP %s" % (self.n, self._id(test), reason), flush=True)
        self._problems.pop(test.id(), None)

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self._problems.setdefault(test.id(), []).append("unexpected success")

    def stopTest(self, test):
        super().stopTest(test)
        problems = self._problems.pop(test.id(), None)
        if problems is None:
            return                                   # reported as skipped
        self._emit(not problems, "%s (%.1fs)" % (self._id(test), time.monotonic() - self._t0),
                   problems)

    def _emit(self, ok, name, problems):
        self.n += 1
        if not ok:
            self.failed += 1
        print("%s %d - %s" % ("ok" if ok else "not ok", self.n, name), flush=True)
        for p in problems:
            for line in p.rstrip().splitlines():
                print("#   " + line, flush=True)


def watchdog():
    print("Bail out! the client's test suite ran longer than %ds" % LIMIT, flush=True)
    os._exit(1)


def main():
    if not os.environ.get("PGMCP_TEST_DSN"):
        print("1..0 # SKIP PGMCP_TEST_DSN is not set (run through scripts/run-tests)")
        return 0
    timer = threading.Timer(LIMIT, watchdog)
    timer.daemon = True
    timer.start()
    os.chdir(ROOT)
    suite = unittest.defaultTestLoader.discover(start_dir=os.path.join(CLIENT, "tests"),
                                                top_level_dir=CLIENT)
    result = TapResult()
    t0 = time.monotonic()
    suite.run(result)
    print("1..%d" % result.n)
    print("# %d tests, %d failed, %d skipped in %.1fs" % (result.testsRun, result.failed,
                                                          len(result.skipped),
                                                          time.monotonic() - t0))
    timer.cancel()
    return 1 if result.failed else 0


if __name__ == "__main__":
    sys.exit(main())
