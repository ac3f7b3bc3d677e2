// The flow designer: palette -> drag onto the canvas -> connect exits -> configure in
// the side panel -> Validate / Save / Publish -> assign to a number.

import {
  addEdge,
  Background,
  Controls,
  ReactFlow,
  ReactFlowProvider,
  useEdgesState,
  useNodesState,
  useReactFlow,
  type Connection,
  type Edge,
} from "@xyflow/react";
import { useCallback, useEffect, useMemo, useState, type DragEvent } from "react";
import { api, listAll, type Credentials } from "../api";
import type { Settings } from "../flow/catalog";
import {
  edgeOf,
  newNodeId,
  toCanvas,
  toDocument,
  type FlowDocument,
  type FlowNode,
} from "../flow/document";
import { useCatalog } from "../designer/CatalogContext";
import { ComponentNode } from "../designer/ComponentNode";
import { SidePanel } from "../designer/SidePanel";

const DRAG_TYPE = "application/x-callplane-component";
const nodeTypes = { component: ComponentNode };

interface Problem {
  node: string | null;
  message: string;
}

interface Status {
  kind: "info" | "ok" | "error";
  text: string;
}

export function Designer(props: { credentials: Credentials; flowId: string }) {
  return (
    <ReactFlowProvider>
      <Canvas {...props} />
    </ReactFlowProvider>
  );
}

function Canvas({ credentials, flowId }: { credentials: Credentials; flowId: string }) {
  const catalog = useCatalog();
  const { screenToFlowPosition } = useReactFlow();
  const [nodes, setNodes, onNodesChange] = useNodesState<FlowNode>([]);
  const [edges, setEdges, onEdgesChange] = useEdgesState<Edge>([]);
  const [name, setName] = useState("");
  const [loaded, setLoaded] = useState<"empty" | "with nodes" | null>(null);
  const [published, setPublished] = useState<number | null>(null);
  const [flowProblems, setFlowProblems] = useState<string[]>([]);
  const [status, setStatus] = useState<Status | null>(null);
  const [numbers, setNumbers] = useState<string[]>([]);
  const [number, setNumber] = useState("");

  useEffect(() => {
    api<{ name: string; document: FlowDocument; published_version: number | null }>(
      credentials,
      "GET",
      `Flow/${flowId}/`,
    ).then((flow) => {
      const canvas = toCanvas(flow.document);
      setName(flow.name);
      setPublished(flow.published_version);
      setNodes(canvas.nodes);
      setEdges(canvas.edges);
      setLoaded(canvas.nodes.length ? "with nodes" : "empty");
    }, report);
    listAll<{ number: string }>(credentials, "Number/").then(
      (found) => setNumbers(found.map((n) => n.number)),
      report,
    );
  }, [credentials, flowId, setNodes, setEdges]);

  function report(error: unknown) {
    setStatus({ kind: "error", text: error instanceof Error ? error.message : String(error) });
  }

  const selected = nodes.find((n) => n.selected);

  const onConnect = useCallback(
    (connection: Connection) => {
      if (!connection.sourceHandle) return;
      const edge = edgeOf({
        from: connection.source,
        exit: connection.sourceHandle,
        to: connection.target,
      });
      // An exit connects to one node: a new connection replaces the old one.
      setEdges((current) => addEdge(edge, current.filter((e) => e.id !== edge.id)));
    },
    [setEdges],
  );

  const onDrop = useCallback(
    (event: DragEvent) => {
      event.preventDefault();
      const type = event.dataTransfer.getData(DRAG_TYPE);
      if (!catalog[type]) return;
      const position = screenToFlowPosition({ x: event.clientX, y: event.clientY });
      setNodes((current) => {
        const id = newNodeId(catalog, type, new Set(current.map((n) => n.id)));
        const node: FlowNode = {
          id,
          type: "component",
          position,
          data: { component: type, name: id, settings: {}, errors: [] },
        };
        return [...current.map((n) => ({ ...n, selected: false })), { ...node, selected: true }];
      });
    },
    [catalog, screenToFlowPosition, setNodes],
  );

  const document = useMemo(() => toDocument(name, nodes, edges), [name, nodes, edges]);

  async function save(): Promise<void> {
    await api(credentials, "POST", `Flow/${flowId}/`, { document, name });
  }

  function showProblems(problems: Problem[]) {
    const byNode = new Map<string, string[]>();
    for (const p of problems) {
      if (p.node) byNode.set(p.node, [...(byNode.get(p.node) ?? []), p.message]);
    }
    setFlowProblems(problems.filter((p) => !p.node).map((p) => p.message));
    setNodes((current) =>
      current.map((n) => ({ ...n, data: { ...n.data, errors: byNode.get(n.id) ?? [] } })),
    );
  }

  async function run(action: () => Promise<Status>) {
    setStatus({ kind: "info", text: "Working…" });
    try {
      setStatus(await action());
    } catch (error) {
      report(error);
    }
  }

  const onSave = () =>
    run(async () => {
      await save();
      return { kind: "ok", text: "Saved" };
    });

  // Save the draft, validate it on the server and mark its problems on the nodes.
  const saveAndValidate = async () => {
    await save();
    const result = await api<{ valid: boolean; errors: Problem[] }>(
      credentials,
      "POST",
      `Flow/${flowId}/Validate/`,
    );
    showProblems(result.errors);
    return result;
  };

  const onValidate = () =>
    run(async () => {
      const result = await saveAndValidate();
      if (result.valid) return { kind: "ok", text: "Valid" };
      return { kind: "error", text: `${result.errors.length} problem(s): see the marked nodes` };
    });

  const onPublish = () =>
    run(async () => {
      const result = await saveAndValidate();
      if (!result.valid) return { kind: "error", text: "Fix the problems before publishing" };
      const done = await api<{ version: number }>(credentials, "POST", `Flow/${flowId}/Publish/`);
      setPublished(done.version);
      return { kind: "ok", text: `Published version ${done.version}` };
    });

  const onAssign = () =>
    run(async () => {
      if (!number) return { kind: "error", text: "Choose a number first" };
      await api(credentials, "POST", `Number/${encodeURIComponent(number)}/`, { flow_id: flowId });
      return { kind: "ok", text: `Assigned to ${number}` };
    });

  function updateSelected(nodeName: string, settings: Settings) {
    if (!selected) return;
    setNodes((current) =>
      current.map((n) =>
        n.id === selected.id ? { ...n, data: { ...n.data, name: nodeName, settings } } : n,
      ),
    );
  }

  function deleteSelected() {
    if (!selected) return;
    setNodes((current) => current.filter((n) => n.id !== selected.id));
    setEdges((current) => current.filter((e) => e.source !== selected.id && e.target !== selected.id));
  }

  return (
    <div className="designer">
      <div className="toolbar">
        <input
          aria-label="Flow name"
          className="flow-name"
          value={name}
          onChange={(e) => setName(e.target.value)}
        />
        <span className="muted">
          {published ? `published v${published}` : "draft, not published"}
        </span>
        <button onClick={onValidate}>Validate</button>
        <button onClick={onSave}>Save</button>
        <button onClick={onPublish}>Publish</button>
        <select aria-label="Number" value={number} onChange={(e) => setNumber(e.target.value)}>
          <option value="">Number…</option>
          {numbers.map((n) => (
            <option key={n} value={n}>
              {n}
            </option>
          ))}
        </select>
        <button onClick={onAssign}>Assign to number</button>
        {status && (
          <span className={`status ${status.kind}`} role="status">
            {status.text}
          </span>
        )}
      </div>
      {flowProblems.length > 0 && (
        <ul className="problems flow-problems" data-testid="flow-problems">
          {flowProblems.map((p) => (
            <li key={p}>{p}</li>
          ))}
        </ul>
      )}
      <div className="designer-body">
        <Palette />
        <div className="canvas" onDragOver={allowDrop} onDrop={onDrop} data-testid="canvas">
          {loaded && (
            <ReactFlow
            nodes={nodes}
            edges={edges}
            nodeTypes={nodeTypes}
            onNodesChange={onNodesChange}
            onEdgesChange={onEdgesChange}
            onConnect={onConnect}
            deleteKeyCode={["Delete"]}
            fitView={loaded === "with nodes"}
            fitViewOptions={{ maxZoom: 1 }}
          >
            <Background />
            <Controls />
          </ReactFlow>
          )}
        </div>
        {selected ? (
          <SidePanel
            key={selected.id}
            node={selected}
            onChange={updateSelected}
            onDelete={deleteSelected}
          />
        ) : (
          <aside className="side-panel muted">Select a node to configure it.</aside>
        )}
      </div>
    </div>
  );
}

function allowDrop(event: DragEvent) {
  event.preventDefault();
  event.dataTransfer.dropEffect = "move";
}

function Palette() {
  const catalog = useCatalog();
  return (
    <nav className="palette" aria-label="Components">
      {Object.values(catalog).map((spec) => (
        <div
          key={spec.type}
          className={`palette-item${spec.unavailable ? " unavailable" : ""}`}
          draggable
          title={spec.unavailable || `Drag ${spec.label} onto the canvas`}
          data-testid={`palette-${spec.type}`}
          onDragStart={(e) => {
            e.dataTransfer.setData(DRAG_TYPE, spec.type);
            e.dataTransfer.effectAllowed = "move";
          }}
        >
          {spec.label}
        </div>
      ))}
    </nav>
  );
}
