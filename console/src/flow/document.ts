// The flow document (docs/flows.md, schema 1) <-> React Flow's nodes and edges.

import type { Edge, Node } from "@xyflow/react";
import type { Catalog, Settings } from "./catalog";

export interface DocNode {
  id: string;
  type: string;
  name: string;
  settings: Settings;
  position: { x: number; y: number };
}

export interface DocEdge {
  from: string;
  exit: string;
  to: string;
}

export interface FlowDocument {
  schema: 1;
  name: string;
  nodes: DocNode[];
  edges: DocEdge[];
}

export interface NodeData extends Record<string, unknown> {
  component: string; // the node "type" in the document
  name: string;
  settings: Settings;
  errors: string[]; // the last validation's messages for this node
}

export type FlowNode = Node<NodeData, "component">;

export function toCanvas(doc: FlowDocument): { nodes: FlowNode[]; edges: Edge[] } {
  const nodes = doc.nodes.map<FlowNode>((n) => ({
    id: n.id,
    type: "component",
    position: n.position,
    data: { component: n.type, name: n.name, settings: n.settings, errors: [] },
  }));
  return { nodes, edges: doc.edges.map(edgeOf) };
}

export function edgeOf(e: DocEdge): Edge {
  return {
    id: `${e.from}:${e.exit}`,
    source: e.from,
    sourceHandle: e.exit,
    target: e.to,
    label: e.exit,
  };
}

export function toDocument(name: string, nodes: FlowNode[], edges: Edge[]): FlowDocument {
  return {
    schema: 1,
    name,
    nodes: nodes.map((n) => ({
      id: n.id,
      type: n.data.component,
      name: n.data.name || n.id,
      settings: n.data.settings,
      position: { x: Math.round(n.position.x), y: Math.round(n.position.y) },
    })),
    edges: edges.map((e) => ({ from: e.source, exit: e.sourceHandle ?? "", to: e.target })),
  };
}

/** A fresh node id for ``type``: its label without spaces and a counter (``CallForward_2``). */
export function newNodeId(catalog: Catalog, type: string, taken: Set<string>): string {
  const base = catalog[type]?.label.replace(/[^A-Za-z0-9]/g, "") || "Node";
  if (type === "start" && !taken.has("Start")) return "Start";
  for (let i = 1; ; i++) {
    const id = `${base}_${i}`;
    if (!taken.has(id)) return id;
  }
}
