"""Checks data contracts written by `mesh export --format odcs` with tools the ODCS project
publishes, nobody here wrote: the JSON Schema that the `open-data-contract-standard` package
(PyPI, the pip module of the Data Contract CLI) ships, applied by the `jsonschema` package, and
that package's own pydantic model. YAML is read with PyYAML (YAML 1.1, the stricter reader for
unquoted strings). Usage: odcs.py FILE... ; exit 1 on any problem."""

import importlib.metadata
import importlib.resources
import json
import sys

import jsonschema
import yaml
from open_data_contract_standard.model import OpenDataContractStandard

schema = json.loads(
    importlib.resources.files("open_data_contract_standard")
    .joinpath("schema.json")
    .read_text(encoding="utf-8")
)
Validator = jsonschema.validators.validator_for(schema)
Validator.check_schema(schema)
validator = Validator(schema, format_checker=Validator.FORMAT_CHECKER)

problems = 0
for path in sys.argv[1:]:
    with open(path, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    for e in sorted(validator.iter_errors(doc), key=lambda e: list(map(str, e.absolute_path))):
        where = "/".join(map(str, e.absolute_path)) or "(root)"
        print(f"{path}: {where}: {e.message}")
        problems += 1
    try:
        OpenDataContractStandard.model_validate(doc)
    except Exception as e:  # pydantic's ValidationError, or anything it raises
        print(f"{path}: the pydantic model refuses it: {e}")
        problems += 1

version = importlib.metadata.version("open-data-contract-standard")
print(
    f"checked {len(sys.argv) - 1} contract(s) against the ODCS JSON Schema of "
    f"open-data-contract-standard {version} ({Validator.__name__}): {problems} problem(s)"
)
sys.exit(1 if problems or len(sys.argv) < 2 else 0)
