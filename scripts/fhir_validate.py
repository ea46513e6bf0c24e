#!/usr/bin/env python3
"""Validates FHIR R4 Bundles with an independent implementation: the
`fhir.resources` 6.5 models (FHIR 4.0.1, pydantic), which reject unknown
elements, wrong types and missing required elements.

    scripts/fhir_validate.py BUNDLE.json [...]

Prints one line per file: `FILE: N Observations valid`; exits non-zero on
the first invalid resource, naming it. scripts/test installs the package
in target/fhir-venv."""
import json
import sys

from fhir.resources.bundle import Bundle
from fhir.resources.observation import Observation


def main(paths):
    for path in paths:
        with open(path) as f:
            data = json.load(f)
        bundle = Bundle.parse_obj(data)
        n = 0
        for i, entry in enumerate(data.get("entry", [])):
            res = entry["resource"]
            if res.get("resourceType") != "Observation":
                raise SystemExit(f"{path}: entry {i} is not an Observation")
            Observation.parse_obj(res)
            n += 1
        if bundle.type != "collection":
            raise SystemExit(f"{path}: Bundle.type is {bundle.type}, expected collection")
        print(f"{path}: {n} Observations valid")


if __name__ == "__main__":
    main(sys.argv[1:])
