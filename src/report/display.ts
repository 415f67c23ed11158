/**
 * Inline display in a tslab notebook: one display_data message carrying several
 * MIME types at once (HTML for the eye, plain text for logs and diffs). Outside a
 * kernel (tests, the CLI) it prints the text/plain part instead.
 */
export type MimeBundle = Record<string, unknown>;

interface TslabJupyter {
  lastWriteDisplayData:
    | ((msg: { data: MimeBundle; metadata: Record<string, unknown>; transient: Record<string, unknown> }, update: boolean) => void)
    | null;
}

function tslabJupyter(): TslabJupyter | undefined {
  try {
    // tslab 1.0.22's process-wide hook for display_data (pinned in package.json).
    return require("tslab/dist/jupyter") as TslabJupyter;
  } catch {
    return undefined;
  }
}

/** Whether code runs inside a tslab kernel that can take rich output. */
export function inNotebook(): boolean {
  return typeof tslabJupyter()?.lastWriteDisplayData === "function";
}

/** Displays a MIME bundle inline; returns false (after printing its text/plain) when no kernel is there. */
export function displayBundle(data: MimeBundle, displayId?: string, update = false): boolean {
  const write = tslabJupyter()?.lastWriteDisplayData;
  if (typeof write !== "function") {
    const text = data["text/plain"];
    if (typeof text === "string") console.log(text);
    return false;
  }
  write({ data, metadata: {}, transient: displayId ? { display_id: displayId } : {} }, update);
  return true;
}
