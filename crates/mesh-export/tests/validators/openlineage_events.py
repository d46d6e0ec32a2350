"""Checks the events written by `mesh export --format openlineage` with the OpenLineage
project's own Python client (`openlineage-python`, PyPI), whose model classes are generated from
the OpenLineage JSON Schemas: every event and facet is built with those classes (unknown or
missing fields are errors there), each facet's `_schemaURL` must be the one the client's class
declares, and the event serialised by the client's `Serde` must equal the line as written.
Usage: openlineage_events.py FILE.jsonl (not named openlineage.py: that would shadow the package) ; exit 1 on any problem."""

import importlib.metadata
import json
import sys

from openlineage.client.event_v2 import InputDataset, Job, JobEvent, OutputDataset
from openlineage.client.facet_v2 import (
    documentation_dataset,
    documentation_job,
    job_type_job,
    ownership_dataset,
    ownership_job,
    schema_dataset,
)
from openlineage.client.serde import Serde

JOB_FACETS = {
    "jobType": job_type_job.JobTypeJobFacet,
    "ownership": ownership_job.OwnershipJobFacet,
    "documentation": documentation_job.DocumentationJobFacet,
}
DATASET_FACETS = {
    "schema": schema_dataset.SchemaDatasetFacet,
    "ownership": ownership_dataset.OwnershipDatasetFacet,
    "documentation": documentation_dataset.DocumentationDatasetFacet,
}


def schema_field(d):
    d = dict(d)
    d["fields"] = [schema_field(f) for f in d.get("fields", [])]
    return schema_dataset.SchemaDatasetFacetFields(**d)


def facet(kinds, name, d):
    cls = kinds[name]
    body = {k: v for k, v in d.items() if not k.startswith("_")}
    if name == "schema":
        body["fields"] = [schema_field(f) for f in body.get("fields", [])]
    if name == "ownership":
        owner = ownership_job.Owner if cls is ownership_job.OwnershipJobFacet else ownership_dataset.Owner
        body["owners"] = [owner(**o) for o in body.get("owners", [])]
    f = cls(producer=d["_producer"], **body)
    if f._schemaURL != d["_schemaURL"]:
        raise ValueError(f"facet {name}: _schemaURL {d['_schemaURL']} but the client says {f._schemaURL}")
    return f


def event(d):
    job = d["job"]
    return JobEvent(
        eventTime=d["eventTime"],
        producer=d["producer"],
        job=Job(
            namespace=job["namespace"],
            name=job["name"],
            facets={k: facet(JOB_FACETS, k, v) for k, v in job.get("facets", {}).items()},
        ),
        inputs=[InputDataset(namespace=i["namespace"], name=i["name"]) for i in d["inputs"]],
        outputs=[
            OutputDataset(
                namespace=o["namespace"],
                name=o["name"],
                facets={k: facet(DATASET_FACETS, k, v) for k, v in o.get("facets", {}).items()},
            )
            for o in d["outputs"]
        ],
    )


def without_empty(v):
    if isinstance(v, dict):
        return {k: without_empty(x) for k, x in v.items() if x not in ([], {}, None)}
    if isinstance(v, list):
        return [without_empty(x) for x in v]
    return v


problems = 0
count = 0
for path in sys.argv[1:]:
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            count += 1
            try:
                written = json.loads(line)
                built = event(written)
                if built.schemaURL != written["schemaURL"]:
                    raise ValueError(f"schemaURL {written['schemaURL']} but the client says {built.schemaURL}")
                again = json.loads(Serde.to_json(built))
                if without_empty(again) != without_empty(written):
                    raise ValueError(f"the client writes it differently:\n{json.dumps(again, sort_keys=True)}")
            except Exception as e:
                problems += 1
                print(f"{path}:{n}: {type(e).__name__}: {e}")

version = importlib.metadata.version("openlineage-python")
print(f"checked {count} event(s) with openlineage-python {version}: {problems} problem(s)")
sys.exit(1 if problems or count == 0 else 0)
