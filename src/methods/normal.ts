/**
 * Normal training (Table 2's "Normal" rows): the base model trained on all
 * observed interactions with the mean per-sample loss, no denoising. Every
 * hook of the method interface is left at its default; it keeps no state,
 * so its runs can resume from a checkpoint.
 */
import type { Method } from "../training/method";

/** The Normal method. */
export function normalMethod(): Method {
  return {
    name: "normal",
    resumable: true,
    describe: () => ({ objective: "mean per-sample loss" }),
  };
}
