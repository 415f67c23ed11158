/**
 * A run's events as progress: a bar (or notebook line) during each epoch and
 * each evaluation, and one summary line per epoch, evaluation and run.
 */
import type { RunEvent } from "../experiments/runner";
import type { ProgressReporter } from "./progress";

const fmt = (m: Record<string, number>): string =>
  Object.entries(m)
    .map(([k, x]) => `${k} ${x.toFixed(4)}`)
    .join("  ");

/** Maps run events onto a progress reporter and summary lines (`say`). */
export function runProgress(reporter: ProgressReporter, say: (line: string) => void): (e: RunEvent) => void {
  let validation = "";
  const line = (text: string): void => {
    reporter.end();
    say(text);
  };
  return (e) => {
    switch (e.type) {
      case "cached":
        line(`reusing ${e.path}`);
        break;
      case "run-start":
        line(`training ${e.config.model} / ${e.config.method} on ${e.config.dataset} (seed ${e.config.seed}, key ${e.key.slice(0, 12)})`);
        break;
      case "batch":
        reporter.update({ label: `epoch ${e.epoch}`, done: e.batch, total: e.batches, info: { loss: e.loss } });
        break;
      case "eval-progress":
        reporter.update({ label: `${e.split} after epoch ${e.epoch}`, done: e.done, total: e.total });
        break;
      case "epoch-end":
        line(`epoch ${e.epoch}/${e.maxEpochs} ${e.log.phase} loss ${e.log.loss.toFixed(5)} (${e.log.seconds.toFixed(1)} s)${validation}`);
        validation = "";
        break;
      case "eval":
        // validation runs before its epoch's end event: shown on the epoch's line
        if (e.split === "valid") validation = ` | valid ${fmt(e.metrics)}${e.checkpoint ? " (checkpoint)" : ""}${e.stop ? " (early stop)" : ""}`;
        else line(`test: ${fmt(e.metrics)}`);
        break;
      case "note":
        line(`epoch ${e.epoch}: ${e.text}`);
        break;
      case "resume":
        line(`resuming after epoch ${e.epoch} from checkpoint ${e.path}`);
        break;
      case "done":
        line(`done: ${e.epochs} epochs in ${e.seconds.toFixed(1)} s, best epoch ${e.bestEpoch ?? "-"}${e.stoppedEarly ? " (stopped early)" : ""}`);
        break;
      default:
        break;
    }
  };
}
