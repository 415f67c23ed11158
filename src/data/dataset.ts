import type { DataWarning } from "../util/errors";
import type { Interactions } from "./interactions";

/**
 * A dataset in the kit's one in-memory form: three splits over dense 0-based
 * user and item ids, the original ids kept, and where it came from.
 */
export interface Dataset {
  /** The `--dataset` name, e.g. `ml-100k`. */
  readonly name: string;
  readonly nUsers: number;
  readonly nItems: number;
  /** originalUserIds[u] is the id user u has in the source files. */
  readonly originalUserIds: Int32Array;
  readonly originalItemIds: Int32Array;
  readonly train: Interactions;
  readonly valid: Interactions;
  /** Clean interactions only (the paper's protocol). */
  readonly test: Interactions;
  /** Interactions in the source before the split dropped anything (Table 1's counts). */
  readonly source: SourceCounts;
  /** sha256 over the source files' bytes and the loader options: the cache key of every run. */
  readonly fingerprint: string;
  readonly files: readonly string[];
  readonly warnings: readonly DataWarning[];
  /** How the dataset was built, in one line (split rule, noise rule). */
  readonly description: string;
}

/** What the raw source holds, before the split and the clean-test rule. */
export interface SourceCounts {
  interactions: number;
  noisy: number;
  /** Size of the id spaces as the source's own code counts them (max id + 1), if that differs from the dense count. */
  userIdSpace: number;
  itemIdSpace: number;
}
