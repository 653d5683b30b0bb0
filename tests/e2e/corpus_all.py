"""Captures every file of the shared corpus (../shared/corpus beside the
checkout) and compares it with tshark's truth table, as corpus_required
does for the files kept in tests/data. Fails when the corpus is missing."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import corpus as cp  # noqa: E402
import corpus_expected as ex  # noqa: E402
import rptest as rt  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.environ.get("REPRISE_CORPUS") or os.path.join(HERE, "..", "..", "..", "shared", "corpus")


def main():
    pcaps = os.path.join(CORPUS, "pcap")
    rt.check(os.path.isdir(pcaps), "corpus directory %s exists (set REPRISE_CORPUS)" % pcaps)
    if not os.path.isdir(pcaps):
        rt.finish()

    work = rt.temp_dir()
    for name in sorted(os.listdir(pcaps)):
        expects = ex.OTHERS.get(name, ex.REQUIRED.get(name, []))
        truth = os.path.join(CORPUS, "truth", name + ".tsv")
        print(cp.check_file(name, os.path.join(pcaps, name), truth, expects, work))
    rt.finish()


main()
