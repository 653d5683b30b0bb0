"""Captures the corpus files kept in tests/data/corpus and compares every
request with tshark's truth table (method, URI, Host, body length, paired
status). Expected differences are listed per file with their reason."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import corpus as cp  # noqa: E402
import corpus_expected as ex  # noqa: E402
import rptest as rt  # noqa: E402

EXPECTED = ex.REQUIRED


def main():
    work = rt.temp_dir()
    for name, expects in EXPECTED.items():
        pcap = rt.data_path("data", "corpus", name)
        print(cp.check_file(name, pcap, pcap + ".tsv", expects, work))
    rt.finish()


main()
