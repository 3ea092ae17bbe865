/** The activity feed: one line per transaction or signing step, updated in place. */
import { h, short } from "./dom";

export type StepStatus = "waiting" | "pending" | "confirmed" | "failed";

export interface ActivityEntry {
  update(status: StepStatus, detail: string, hash?: string): void;
}

export interface Activity {
  readonly element: HTMLElement;
  add(label: string, status: StepStatus, detail: string): ActivityEntry;
}

export function createActivity(): Activity {
  const list = h("ol", { class: "activity", "data-testid": "activity" });
  const element = h("section", { class: "panel" }, h("h2", {}, "Activity"), list);
  return {
    element,
    add(label, status, detail) {
      const statusEl = h("span", { class: "status" });
      const detailEl = h("span", { class: "detail" });
      const item = h(
        "li",
        { "data-testid": "activity-entry" },
        h("strong", {}, label),
        " ",
        statusEl,
        " ",
        detailEl,
      );
      list.prepend(item);
      const entry: ActivityEntry = {
        update(next, text, hash) {
          item.dataset.status = next;
          statusEl.textContent = next;
          detailEl.textContent = hash ? text.replace(hash, short(hash)) : text;
          if (hash) detailEl.title = hash;
        },
      };
      entry.update(status, detail);
      return entry;
    },
  };
}
