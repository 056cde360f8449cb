import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { APP_WEBHOOK_TOPICS, HANDLED_WEBHOOK_TOPICS, loadConfig } from '../../src/config.js';
import { RECORD_TABLES, RECORD_WEBHOOK_TOPICS, RESOURCE_NAMES, RESOURCES } from '../../src/resources/index.js';
import { actionForTopic } from '../../src/webhooks/topics.js';

type Json = Record<string, any>;
const contract = JSON.parse(readFileSync(new URL('../../src/generated/openapi.json', import.meta.url), 'utf8')) as Json;
/** Parameters the API adds to every list, whatever the resource. */
const LIST_PARAMETERS = new Set(['limit', 'cursor', 'include_deleted', 'view']);

function resolve(node: Json): Json {
  if (typeof node.$ref !== 'string') return node;
  return (node.$ref as string)
    .replace(/^#\//, '')
    .split('/')
    .reduce((at: Json, part) => at[part], contract);
}

const queryParameters = (path: string): string[] =>
  ((contract.paths[path]?.get?.parameters ?? []) as Json[])
    .map(resolve)
    .filter((p) => p.in === 'query')
    .map((p) => p.name as string);

describe('registry: the contract and the configuration agree with src/resources', () => {
  it("when the contract's ResourceName enum and per-resource status are read, then they name exactly the registry's resources", () => {
    const schemas = contract.components.schemas as Json;
    expect(schemas.ResourceName.enum)
      .to.have.members([...RESOURCE_NAMES])
      .and.to.have.length(RESOURCE_NAMES.length);
    expect(Object.keys(schemas.ResourceSyncStatuses.properties)).to.have.members([...RESOURCE_NAMES]);
    expect(schemas.ResourceSyncStatuses.required).to.have.members([...RESOURCE_NAMES]);
    expect(schemas.SyncRequest.properties.resources.maxItems).to.equal(RESOURCE_NAMES.length);
  });

  it("when the contract's record paths are read, then each resource has its list and retrieve path, and no other record path exists", () => {
    const recordPaths = Object.keys(contract.paths).filter(
      (p) => /^\/api\/shopify\/[a-z_]+\/(\{id\}\/)?$/.test(p) && contract.paths[p].get?.parameters?.some((x: Json) => resolve(x).name === 'include_deleted'),
    );
    const expected = RESOURCE_NAMES.flatMap((name) => [`/api/shopify/${name}/`, `/api/shopify/${name}/{id}/`]);
    expect(recordPaths).to.have.members(expected);
  });

  it("when each list path's query parameters are compared with the resource's filters, then they are the same", () => {
    for (const resource of Object.values(RESOURCES)) {
      const offered = queryParameters(`/api/shopify/${resource.name}/`).filter((name) => !LIST_PARAMETERS.has(name));
      expect(offered, resource.name).to.have.members(Object.keys(resource.filters));
      expect(offered, resource.name).to.have.length(Object.keys(resource.filters).length);
    }
  });

  it('when the default configuration is loaded, then every resource has a sync interval and every record topic is handled', () => {
    const config = loadConfig({ NODE_ENV: 'test' });
    expect(Object.keys(config.shopify.syncIntervals)).to.have.members([...RESOURCE_NAMES]);
    expect(loadConfig({ NODE_ENV: 'test', SHOPIFY_SYNC_INTERVAL_LOCATIONS: '60' }).shopify.syncIntervals.locations).to.equal(60);
    expect(config.shopify.webhookTopics).to.have.members([...HANDLED_WEBHOOK_TOPICS]);
    expect(HANDLED_WEBHOOK_TOPICS).to.have.members([...RECORD_WEBHOOK_TOPICS, ...APP_WEBHOOK_TOPICS]);
    expect(new Set(HANDLED_WEBHOOK_TOPICS).size, 'each topic once').to.equal(HANDLED_WEBHOOK_TOPICS.length);
    for (const topic of HANDLED_WEBHOOK_TOPICS) expect(actionForTopic(topic), topic).not.to.equal(undefined);
  });

  it('when a location is deleted, then its topic changes the location and its inventory levels', () => {
    const action = actionForTopic('locations/delete');
    expect(action?.kind).to.equal('records');
    if (action?.kind !== 'records') return;
    expect(action.effects.map((e) => `${e.kind}:${e.resource.name}`)).to.deep.equal(['delete:locations', 'delete-where:inventory']);
  });

  it("when the tables a purge covers are listed, then each resource's table and child table is among them", () => {
    for (const resource of Object.values(RESOURCES)) {
      expect(RECORD_TABLES).to.include(resource.table);
      if (resource.child) expect(RECORD_TABLES.indexOf(resource.child.table)).to.be.lessThan(RECORD_TABLES.indexOf(resource.table));
    }
  });
});
