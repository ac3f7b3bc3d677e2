// One box on the canvas: its label and name, an input on top (not Start), and one
// output handle per named exit along the bottom.

import { Handle, Position, type NodeProps } from "@xyflow/react";
import { exitsOf } from "../flow/catalog";
import type { FlowNode } from "../flow/document";
import { useCatalog } from "./CatalogContext";

export function ComponentNode({ id, data, selected }: NodeProps<FlowNode>) {
  const spec = useCatalog()[data.component];
  const exits = spec ? exitsOf(spec, data.settings) : [];
  const classes = ["flow-node", selected ? "selected" : "", data.errors.length ? "invalid" : ""];
  return (
    <div className={classes.join(" ")} data-testid={`node-${id}`}>
      {data.component !== "start" && <Handle type="target" position={Position.Top} />}
      <div className="flow-node-type">{spec?.label ?? data.component}</div>
      <div className="flow-node-name">{data.name || id}</div>
      {data.errors.length > 0 && (
        <div className="flow-node-errors" title={data.errors.join("\n")}>
          {data.errors.length} problem{data.errors.length > 1 ? "s" : ""}
        </div>
      )}
      {exits.length > 0 && (
        <div className="flow-node-exits">
          {exits.map((exit) => (
            <div className="flow-node-exit" key={exit}>
              <span>{exit}</span>
              <Handle type="source" id={exit} position={Position.Bottom} />
            </div>
          ))}
        </div>
      )}
    </div>
  );
}
