import {
  getNamedType,
  GraphQLError,
  isLeafType,
  isListType,
  isNonNullType,
  isObjectType,
  Kind,
  parse,
  validate,
  type DocumentNode,
  type FieldNode,
  type GraphQLNamedType,
  type GraphQLObjectType,
  type GraphQLOutputType,
  type GraphQLSchema,
  type InlineFragmentNode,
  type OperationDefinitionNode,
  type SelectionNode,
  type SelectionSetNode,
} from 'graphql';

/**
 * The inner query of `bulkOperationRunQuery`: checked as Shopify checks it (valid against the schema of
 * the version, one top-level field, at least one and at most five connections, nested at most two
 * levels, no connection inside a list, no top-level `node`/`nodes`, `id` on every node with a nested
 * connection) and rewritten for the runner: every connection selects `nodes` (the JSONL has no edges or
 * pageInfo), the top-level one pages through `$bulkFirst_`/`$bulkAfter_`, nested ones come whole.
 */

/** A connection of the inner query, relative to the node (or the query root) it hangs from. */
export interface ConnectionPlan {
  /** Response keys from the enclosing node object to the connection (objects in between included). */
  path: string[];
  /** Connections in each of its nodes (only under the top-level connection: nesting stops at two). */
  children: ConnectionPlan[];
}

export interface BulkPlan {
  /** The rewritten query: run it with variables `bulkFirst_` (Int!) and `bulkAfter_` (String). */
  document: DocumentNode;
  /** Response keys from `data` to the top-level connection. */
  rootPath: string[];
  /** Connections in each top-level node. */
  children: ConnectionPlan[];
}

export type BulkQueryCheck = { ok: true; plan: BulkPlan } | { ok: false; message: string };

const MAX_CONNECTIONS = 5;
const MAX_DEPTH = 2;
/** Nested connections are read whole in one execution: the largest Int. */
const WHOLE = '2147483647';

class Invalid extends Error {}

const name = (value: string) => ({ kind: Kind.NAME, value }) as const;
const field = (fieldName: string, selections?: readonly SelectionNode[], alias?: string, args: FieldNode['arguments'] = []): FieldNode => ({
  kind: Kind.FIELD,
  name: name(fieldName),
  ...(alias ? { alias: name(alias) } : {}),
  arguments: args,
  ...(selections ? { selectionSet: { kind: Kind.SELECTION_SET, selections } } : {}),
});

export function isConnectionType(type: GraphQLNamedType): type is GraphQLObjectType {
  return isObjectType(type) && type.name.endsWith('Connection') && type.getFields().nodes !== undefined;
}

export function planBulkQuery(schema: GraphQLSchema, query: string): BulkQueryCheck {
  let document: DocumentNode;
  try {
    document = parse(query);
  } catch (error) {
    return { ok: false, message: `Invalid bulk query: ${(error as GraphQLError).message}` };
  }
  const errors = validate(schema, document);
  if (errors.length) return { ok: false, message: `Invalid bulk query: ${errors.map((e) => e.message).join(' ')}` };
  const operations = document.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  const operation = operations[0];
  if (operations.length !== 1 || !operation) return { ok: false, message: 'Invalid bulk query: a bulk query must hold exactly one operation.' };
  if (operation.operation !== 'query') return { ok: false, message: 'Invalid bulk query: only queries can run in bulkOperationRunQuery (mutations run through bulkOperationRunMutation).' };
  try {
    return { ok: true, plan: new Planner(schema, document).plan(operation) };
  } catch (error) {
    if (error instanceof Invalid) return { ok: false, message: error.message };
    throw error;
  }
}

interface Walked {
  selections: SelectionNode[];
  connections: ConnectionPlan[];
}

class Planner {
  private connectionCount = 0;
  private readonly fragments: Map<string, { typeName: string; selectionSet: SelectionSetNode }>;

  constructor(
    private readonly schema: GraphQLSchema,
    document: DocumentNode,
  ) {
    this.fragments = new Map(
      document.definitions.flatMap((d) => (d.kind === Kind.FRAGMENT_DEFINITION ? [[d.name.value, { typeName: d.typeCondition.name.value, selectionSet: d.selectionSet }] as const] : [])),
    );
  }

  plan(operation: OperationDefinitionNode): BulkPlan {
    const queryType = this.schema.getQueryType() as GraphQLObjectType;
    const top = this.flatten(operation.selectionSet).filter((s) => s.kind !== Kind.FIELD || s.name.value !== '__typename');
    if (top.length !== 1 || top[0]?.kind !== Kind.FIELD) throw new Invalid('Invalid bulk query: a bulk query must select exactly one top-level field.');
    const topField = top[0];
    if (topField.name.value === 'node' || topField.name.value === 'nodes') {
      throw new Invalid(`Invalid bulk query: the top-level \`${topField.name.value}\` field is not supported in bulk queries. Query a connection, such as \`products\`, instead.`);
    }
    const walked = this.walk(operation.selectionSet, queryType, 0, false);
    if (walked.connections.length === 0) throw new Invalid('Invalid bulk query: bulk queries must contain at least one connection.');
    if (walked.connections.length > 1) throw new Invalid('Invalid bulk query: bulk queries can contain only one top-level connection.');
    const root = walked.connections[0] as ConnectionPlan;
    const rewritten: OperationDefinitionNode = {
      ...operation,
      variableDefinitions: [
        ...(operation.variableDefinitions ?? []),
        { kind: Kind.VARIABLE_DEFINITION, variable: { kind: Kind.VARIABLE, name: name('bulkFirst_') }, type: { kind: Kind.NON_NULL_TYPE, type: { kind: Kind.NAMED_TYPE, name: name('Int') } } },
        { kind: Kind.VARIABLE_DEFINITION, variable: { kind: Kind.VARIABLE, name: name('bulkAfter_') }, type: { kind: Kind.NAMED_TYPE, name: name('String') } },
      ],
      selectionSet: { kind: Kind.SELECTION_SET, selections: walked.selections },
    };
    return { document: { kind: Kind.DOCUMENT, definitions: [rewritten] }, rootPath: root.path, children: root.children };
  }

  /** Selections with fragment spreads turned into inline fragments (the rewrite then has no fragments to follow). */
  private flatten(selectionSet: SelectionSetNode | undefined): SelectionNode[] {
    return (selectionSet?.selections ?? []).map((s): SelectionNode => {
      if (s.kind !== Kind.FRAGMENT_SPREAD) return s;
      const fragment = this.fragments.get(s.name.value) as { typeName: string; selectionSet: SelectionSetNode };
      return { kind: Kind.INLINE_FRAGMENT, typeCondition: { kind: Kind.NAMED_TYPE, name: name(fragment.typeName) }, directives: s.directives ?? [], selectionSet: fragment.selectionSet };
    });
  }

  /**
   * Rewrites a selection set of `parent` in a scope `depth` connections deep; returns the connections
   * found in it (paths relative to the scope's node) and the rewritten selections.
   */
  private walk(selectionSet: SelectionSetNode | undefined, parent: GraphQLNamedType, depth: number, inList: boolean): Walked {
    const out: Walked = { selections: [], connections: [] };
    for (const sel of this.flatten(selectionSet)) {
      if (sel.kind === Kind.INLINE_FRAGMENT) {
        const type = sel.typeCondition ? (this.schema.getType(sel.typeCondition.name.value) as GraphQLNamedType) : parent;
        const inner = this.walk(sel.selectionSet, type, depth, inList);
        out.selections.push({ ...sel, selectionSet: { kind: Kind.SELECTION_SET, selections: inner.selections } } as InlineFragmentNode);
        out.connections.push(...inner.connections);
        continue;
      }
      if (sel.kind !== Kind.FIELD) continue;
      const def = sel.name.value === '__typename' || !('getFields' in parent) ? undefined : parent.getFields()[sel.name.value];
      const type = def ? getNamedType(def.type) : undefined;
      if (!def || !type || isLeafType(type)) {
        out.selections.push(sel);
        continue;
      }
      const key = sel.alias?.value ?? sel.name.value;
      if (isConnectionType(type)) {
        const { field: rewritten, plan } = this.connection(sel, type, depth + 1, inList);
        out.selections.push(rewritten);
        out.connections.push({ ...plan, path: [key] });
        continue;
      }
      const inner = this.walk(sel.selectionSet, type, depth, inList || isList(def.type as GraphQLOutputType));
      out.selections.push({ ...sel, selectionSet: { kind: Kind.SELECTION_SET, selections: inner.selections } });
      out.connections.push(...inner.connections.map((c) => ({ ...c, path: [key, ...c.path] })));
    }
    return out;
  }

  private connection(sel: FieldNode, type: GraphQLObjectType, depth: number, inList: boolean): { field: FieldNode; plan: ConnectionPlan } {
    const label = sel.alias?.value ?? sel.name.value;
    if (inList) throw new Invalid(`Invalid bulk query: queries that contain a connection field within a list field are not supported (\`${label}\`).`);
    if (depth > MAX_DEPTH) throw new Invalid(`Invalid bulk query: bulk queries cannot contain connections with a nesting depth greater than ${MAX_DEPTH} (\`${label}\`).`);
    if (++this.connectionCount > MAX_CONNECTIONS) throw new Invalid(`Invalid bulk query: bulk queries cannot contain more than ${MAX_CONNECTIONS} connections.`);
    const nodeType = getNamedType(type.getFields().nodes?.type as GraphQLOutputType);
    // The node's selections from `nodes { … }` and `edges { node { … } }`; cursors and pageInfo have no place in JSONL.
    const nodeSelections: SelectionNode[] = [];
    const collect = (selections: SelectionNode[], inEdge: boolean) => {
      for (const s of selections) {
        if (s.kind === Kind.INLINE_FRAGMENT) collect(this.flatten(s.selectionSet), inEdge);
        else if (s.kind !== Kind.FIELD) continue;
        else if (!inEdge && s.name.value === 'nodes') nodeSelections.push(...this.flatten(s.selectionSet));
        else if (!inEdge && s.name.value === 'edges') collect(this.flatten(s.selectionSet), true);
        else if (inEdge && s.name.value === 'node') nodeSelections.push(...this.flatten(s.selectionSet));
      }
    };
    collect(this.flatten(sel.selectionSet), false);
    const inner = this.walk({ kind: Kind.SELECTION_SET, selections: nodeSelections }, nodeType, depth, false);
    if (inner.connections.length > 0 && !nodeSelections.some((s) => s.kind === Kind.FIELD && s.name.value === 'id' && !s.alias)) {
      throw new Invalid(`Invalid bulk query: the parent 'node' field for a nested connection must select the 'id' field without an alias. Connection fields without 'id': ${label}.`);
    }
    const paging = ['first', 'last', 'after', 'before'];
    const args = [
      ...(sel.arguments ?? []).filter((a) => !paging.includes(a.name.value)),
      ...(depth === 1
        ? [
            { kind: Kind.ARGUMENT, name: name('first'), value: { kind: Kind.VARIABLE, name: name('bulkFirst_') } },
            { kind: Kind.ARGUMENT, name: name('after'), value: { kind: Kind.VARIABLE, name: name('bulkAfter_') } },
          ]
        : [{ kind: Kind.ARGUMENT, name: name('first'), value: { kind: Kind.INT, value: WHOLE } }]),
    ] as FieldNode['arguments'];
    const selections: SelectionNode[] = [field('nodes', inner.selections.length ? inner.selections : [field('__typename')])];
    if (depth === 1) selections.push(field('pageInfo', [field('hasNextPage'), field('endCursor')]));
    return { field: field(sel.name.value, selections, sel.alias?.value, args), plan: { path: [], children: inner.connections } };
  }
}

function isList(type: GraphQLOutputType): boolean {
  return isListType(isNonNullType(type) ? type.ofType : type);
}
