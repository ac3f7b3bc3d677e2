import { createContext, useContext } from "react";
import type { Catalog } from "../flow/catalog";

export const CatalogContext = createContext<Catalog>({});

export function useCatalog(): Catalog {
  return useContext(CatalogContext);
}
