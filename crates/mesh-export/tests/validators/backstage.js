// Checks the entities written by `mesh export --format backstage` with @backstage/catalog-model
// (npm), the package the Backstage catalog itself validates entities with on ingestion: the
// default entity policies (namespace, no foreign root fields, field formats such as entity
// names, tags, labels and annotations, the entity envelope schema) and each kind's own
// validator. Also checks that every relation names an entity of the export. YAML is read with
// the `yaml` package, as Backstage does. Usage: node backstage.js FILE... ; exit 1 on a problem.
'use strict';

const fs = require('fs');
const YAML = require('yaml');
const model = require('@backstage/catalog-model');

const policy = model.EntityPolicies.allOf([
  new model.DefaultNamespaceEntityPolicy(),
  new model.NoForeignRootFieldsEntityPolicy(),
  new model.FieldFormatEntityPolicy(),
  new model.SchemaValidEntityPolicy(),
]);
const validators = {
  API: model.apiEntityV1alpha1Validator,
  Component: model.componentEntityV1alpha1Validator,
  Domain: model.domainEntityV1alpha1Validator,
  Group: model.groupEntityV1alpha1Validator,
  Resource: model.resourceEntityV1alpha1Validator,
  System: model.systemEntityV1alpha1Validator,
};
const refFields = ['owner', 'domain', 'system', 'dependsOn', 'providesApis', 'consumesApis'];

async function main() {
  let problems = 0;
  const entities = [];
  const say = (where, message) => {
    problems += 1;
    console.log(`${where}: ${message}`);
  };
  for (const path of process.argv.slice(2)) {
    for (const doc of YAML.parseAllDocuments(fs.readFileSync(path, 'utf8'))) {
      for (const e of doc.errors) say(path, `YAML: ${e.message}`);
      const entity = doc.toJS();
      if (entity === null || entity === undefined) continue;
      const where = `${path}: ${entity.kind} ${entity.metadata && entity.metadata.name}`;
      try {
        const enforced = await policy.enforce(entity);
        const validator = validators[entity.kind];
        if (!validator) throw new Error(`no validator for kind ${entity.kind}`);
        if (!(await validator.check(enforced))) throw new Error('its kind validator does not accept it');
        entities.push(enforced);
      } catch (e) {
        say(where, e.message);
      }
    }
  }
  const known = new Set(
    entities.map(e => `${e.kind.toLowerCase()}:${e.metadata.namespace}/${e.metadata.name}`),
  );
  for (const e of entities) {
    for (const field of refFields) {
      const value = e.spec && e.spec[field];
      for (const ref of value === undefined ? [] : [].concat(value)) {
        const r = model.parseEntityRef(ref);
        const key = `${r.kind.toLowerCase()}:${r.namespace}/${r.name}`;
        if (!known.has(key)) say(`${e.kind} ${e.metadata.name}`, `spec.${field} names ${ref}, which is not in the export`);
      }
    }
  }
  console.log(`checked ${entities.length} entities with @backstage/catalog-model: ${problems} problem(s)`);
  process.exit(problems || entities.length === 0 ? 1 : 0);
}

main().catch(e => {
  console.log(`the check failed: ${e.stack}`);
  process.exit(1);
});
