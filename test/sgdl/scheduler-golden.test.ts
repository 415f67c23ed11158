/**
 * The scheduler's per-step path (draw, selectionGradients /
 * trainFromSelectionGrad, advance: typed arrays, fused LSTM gates, closed-form
 * softmax and Gumbel backward) against the path it replaced, kept in
 * scheduler-reference.ts. GOLDEN holds numbers recorded from the pre-change
 * scheduler on the cpu backend (the reference reproduced them bit for bit at
 * the time, and the first test pins that), for B = 128 memorized samples,
 * 128 draws, the variants' default sizes (lstm H 64 F 2, lstm1 H 10 F 3,
 * mlp H 64 F 2), lr 5e-3, tau 0.05 (lstm1: 1), five steps whose ids overlap
 * (step k: ids 64k..64k+127 shuffled; step 2 repeats one id).
 * Tolerances: float32 rounding; gradients within 1e-5 of the largest
 * gradient entry (the old path sums B = 128 rows in float32: 128 x 2^-24 =
 * 7.6e-6). Exact: the selections. Not compared: the
 * read-out bias (lstm out.b, lstm1 fc2.b, mlp mlp.b2), whose gradient is 0 in
 * exact arithmetic (softmax is shift-invariant): the old path's float32 sums
 * leave ~1e-8 there and Adam's normalised step turns it into a drift of up to
 * lr per step (GOLDEN's -0.0087 after five steps); it changes neither pi nor S.
 * Likewise Adam turns any gradient entry near rounding level (|g| < 1e-3 of
 * its parameter's largest) into a step that float32 rounding decides, so phi
 * after a step is compared on the other entries.
 */
import { before, describe, test } from "node:test";
import * as assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../src/backend";
import { createScheduler, schedulerDefaults, type SchedulerConfig } from "../../src/methods/sgdl/scheduler";
import { Rng } from "../../src/util/rng";
import { ReferenceScheduler } from "./scheduler-reference";

type Kind = "lstm" | "lstm1" | "mlp";
const B = 128;
const STEPS = 5;
const TAU: Record<Kind, number> = { lstm: 0.05, lstm1: 1, mlp: 0.05 };
/** The read-out bias: its gradient is exactly zero. */
const SHIFT: Record<Kind, string> = { lstm: "out.b", lstm1: "fc2.b", mlp: "mlp.b2" };

interface Golden {
  logits0: number[];
  pi0: number[];
  picks0: number[];
  logits4: number[];
  pi4: number[];
  picks4: number[];
  /** Per parameter: [sum |g|, g[0], g[last]] at steps 0 and 4. */
  grad0: Record<string, number[]>;
  grad4: Record<string, number[]>;
  /** Per parameter after five steps: [first, last]. */
  phi: Record<string, number[]>;
  /** lstm: carried h[0], h[63], c[0], c[63] of id 200 after five steps. */
  state200?: number[];
}

/** Recorded from the pre-change scheduler (scheduler.ts before the typed-array path), cpu backend. */
const GOLDEN: Record<Kind, Golden> = {
  lstm: {
    logits0: [-0.04520125314593315, -0.023016272112727165, -0.02944946475327015],
    pi0: [0.007658350747078657, 0.007830149494111538, 0.007779938634485006],
    picks0: [37, 23, 8, 95, 58, 126, 110, 89, 60, 10, 120, 126],
    logits4: [-0.058164332062006, -0.11239917576313019, -0.06592735648155212],
    pi4: [0.007859494537115097, 0.0074445889331400394, 0.0077987173572182655],
    picks4: [93, 69, 69, 28, 50, 127, 125, 81, 99, 29, 44, 93],
    grad0: {
      "lstm.wx": [0.37644271136059615, -2.200779999839142e-05, -0.00011453688784968108],
      "lstm.wh": [0, 0, 0],
      "lstm.b": [0.0322277932009456, 2.7019618755730335e-06, -0.00015197854372672737],
      "out.w": [0.1305817335305619, 0.00024640330229885876, 0.0029509486630558968],
      "out.b": [5.796122692913741e-09, 5.796122692913741e-09, 5.796122692913741e-09],
    },
    grad4: {
      "lstm.wx": [1.1236241510037672, 0.0011336677707731724, -0.00013751197548117489],
      "lstm.wh": [0.4399132669043062, -1.090507248591166e-05, 1.1459964298410341e-05],
      "lstm.b": [0.12733379042322213, 0.0005625682533718646, 0.0005262684426270425],
      "out.w": [0.45912770579889184, 0.012729744426906109, -0.00964396446943283],
      "out.b": [1.0646733272778874e-08, 1.0646733272778874e-08, 1.0646733272778874e-08],
    },
    phi: {
      "lstm.wx": [0.10734102129936218, 0.020684996619820595],
      "lstm.wh": [0.0679018571972847, -0.04727543890476227],
      "lstm.b": [-0.00944823119789362, 0.01128967385739088],
      "out.w": [0.09189259260892868, -0.1225966364145279],
      "out.b": [-0.007732833735644817, -0.007732833735644817],
    },
    state200: [-0.03955545648932457, 0.006016352213919163, -0.08314307034015656, 0.011877425014972687],
  },
  lstm1: {
    logits0: [-0.12746460735797882, -0.1018609032034874, -0.12434566020965576],
    pi0: [0.007733976002782583, 0.007934551686048508, 0.007758135441690683],
    picks0: [37, 23, 8, 95, 58, 126, 110, 89, 60, 10, 120, 126],
    logits4: [-0.11045948415994644, -0.1441110521554947, -0.12087244540452957],
    pi4: [0.007881294935941696, 0.007620489690452814, 0.007799652870744467],
    picks4: [93, 69, 69, 28, 50, 127, 125, 81, 99, 29, 44, 93],
    grad0: {
      "lossLstm.fwd.wx": [0.0008939995735630646, 1.8869693576561986e-06, 9.740858331497293e-06],
      "lossLstm.fwd.wh": [0, 0, 0],
      "lossLstm.fwd.b": [0.00018985848123520555, 3.0561311632482102e-06, 1.3014087016927078e-06],
      "lossLstm.fwd.b2": [0.00018985848123520555, 3.0561311632482102e-06, 1.3014087016927078e-06],
      "lossLstm.bwd.wx": [0.0008317709591558753, 2.620481427584309e-05, -6.861627298349049e-06],
      "lossLstm.bwd.wh": [0, 0, 0],
      "lossLstm.bwd.b": [0.00016683113491211543, 4.853651716985041e-06, -9.240902727469802e-07],
      "lossLstm.bwd.b2": [0.00016683113491211543, 4.853651716985041e-06, -9.240902727469802e-07],
      "gradLstm.fwd.wx": [0.0025530437050420574, -1.016016449284507e-05, -1.283390815842722e-06],
      "gradLstm.fwd.wh": [0, 0, 0],
      "gradLstm.fwd.b": [0.0003901486899309248, 5.537018751056166e-06, 7.920655662019271e-06],
      "gradLstm.fwd.b2": [0.0003901486899309248, 5.537018751056166e-06, 7.920655662019271e-06],
      "gradLstm.bwd.wx": [0.0016957959979890802, 6.473017606367648e-07, 3.2301257306244224e-05],
      "gradLstm.bwd.wh": [0, 0, 0],
      "gradLstm.bwd.b": [0.0003440017537741369, 5.662452622345882e-07, -1.3269715054775588e-05],
      "gradLstm.bwd.b2": [0.0003440017537741369, 5.662452622345882e-07, -1.3269715054775588e-05],
      "fc1.w": [0.034975012673015726, 8.7155995061039e-06, -4.069174610776827e-05],
      "fc1.b": [9.458831809183721e-05, -5.729896770390042e-07, -2.804944870149484e-06],
      "fc2.w": [0.005420375295216218, 4.1775954741751775e-05, 0.00018746840942185372],
      "fc2.b": [7.026983439573087e-10, 7.026983439573087e-10, 7.026983439573087e-10],
    },
    grad4: {
      "lossLstm.fwd.wx": [0.00025955759576845594, 2.0229501842550235e-06, 1.7328732155874604e-06],
      "lossLstm.fwd.wh": [0, 0, 0],
      "lossLstm.fwd.b": [4.010514754249073e-05, 4.272156672868732e-07, -1.0598267863315414e-07],
      "lossLstm.fwd.b2": [4.010514754249073e-05, 4.272156672868732e-07, -1.0598267863315414e-07],
      "lossLstm.bwd.wx": [0.00018370419228119772, 7.9081019066507e-06, -3.0680353120260406e-06],
      "lossLstm.bwd.wh": [0, 0, 0],
      "lossLstm.bwd.b": [3.6274643735012546e-05, -6.241277219487529e-07, 1.3433725598588353e-07],
      "lossLstm.bwd.b2": [3.6274643735012546e-05, -6.241277219487529e-07, 1.3433725598588353e-07],
      "gradLstm.fwd.wx": [0.0024049856332055697, 1.3859383216185961e-05, -2.265279817947885e-06],
      "gradLstm.fwd.wh": [0, 0, 0],
      "gradLstm.fwd.b": [0.00037406860838018474, -8.748275831749197e-06, -2.906122972490266e-06],
      "gradLstm.fwd.b2": [0.00037406860838018474, -8.748275831749197e-06, -2.906122972490266e-06],
      "gradLstm.bwd.wx": [0.0015560563707026631, -3.3133480883407174e-06, -2.4954642867669463e-05],
      "gradLstm.bwd.wh": [0, 0, 0],
      "gradLstm.bwd.b": [0.0002748061619826103, -8.49399839353282e-08, 1.3724259588343557e-05],
      "gradLstm.bwd.b2": [0.0002748061619826103, -8.49399839353282e-08, 1.3724259588343557e-05],
      "fc1.w": [0.013588893044239825, 1.8412563349556876e-06, 3.387451215530746e-05],
      "fc1.b": [5.347791065446472e-05, -1.6149487009897712e-06, 2.8381060701576644e-07],
      "fc2.w": [0.0023912901505696027, 0.00011413792526582256, -1.791061004041694e-05],
      "fc2.b": [9.113136911764741e-10, 9.113136911764741e-10, 9.113136911764741e-10],
    },
    phi: {
      "lossLstm.fwd.wx": [0.21081438660621643, -0.24733678996562958],
      "lossLstm.fwd.wh": [0.03208015486598015, 0.13186916708946228],
      "lossLstm.fwd.b": [0.10071848332881927, 0.19200754165649414],
      "lossLstm.fwd.b2": [0.27366796135902405, 0.0010759008582681417],
      "lossLstm.bwd.wx": [0.10751689970493317, -0.04786190763115883],
      "lossLstm.bwd.wh": [-0.18430161476135254, 0.03594498708844185],
      "lossLstm.bwd.b": [0.16764570772647858, 0.009547009132802486],
      "lossLstm.bwd.b2": [0.20277148485183716, -0.05448333919048309],
      "gradLstm.fwd.wx": [-0.21080440282821655, 0.2554794251918793],
      "gradLstm.fwd.wh": [-0.09247951954603195, 0.22032351791858673],
      "gradLstm.fwd.b": [-0.2557506263256073, -0.10387331992387772],
      "gradLstm.fwd.b2": [0.09245354682207108, -0.06080309674143791],
      "gradLstm.bwd.wx": [0.1508060246706009, -0.20652279257774353],
      "gradLstm.bwd.wh": [-0.019161611795425415, 0.25497108697891235],
      "gradLstm.bwd.b": [0.1623692661523819, 0.18417643010616302],
      "gradLstm.bwd.b2": [-0.06711343675851822, -0.29878905415534973],
      "fc1.w": [0.02837180159986019, -0.0495164692401886],
      "fc1.b": [0.13348986208438873, 0.11033771932125092],
      "fc2.w": [0.06418482959270477, 0.06043326109647751],
      "fc2.b": [-0.09944657981395721, -0.09944657981395721],
    },
  },
  mlp: {
    logits0: [-0.35484540462493896, 0.0008622004534117877, -0.3202704191207886],
    pi0: [0.006846631411463022, 0.009771444834768772, 0.0070874933153390884],
    picks0: [37, 23, 8, 95, 58, 126, 110, 89, 60, 10, 120, 126],
    logits4: [-0.15776042640209198, -0.32921871542930603, -0.19131003320217133],
    pi4: [0.00798665452748537, 0.006728241220116615, 0.0077231512404978275],
    picks4: [93, 69, 69, 28, 50, 127, 125, 81, 99, 29, 44, 93],
    grad0: {
      "mlp.w1": [1.1038453340031538, 0.02475571446120739, -0.004778499715030193],
      "mlp.b1": [0.362155210688517, -6.364613454934442e-06, -0.0008994769887067378],
      "mlp.w2": [0.49451098616100353, -0.015313693322241306, 0.006194909568876028],
      "mlp.b2": [4.690835275766858e-09, 4.690835275766858e-09, 4.690835275766858e-09],
    },
    grad4: {
      "mlp.w1": [1.2327188010424805, 0.0440695695579052, 0.0002583666646387428],
      "mlp.b1": [0.7726404584025903, 0.025190511718392372, -0.015087277628481388],
      "mlp.w2": [0.9904440920358866, -0.040312621742486954, -0.013525095768272877],
      "mlp.b2": [3.1117124432711307e-09, 3.1117124432711307e-09, 3.1117124432711307e-09],
    },
    phi: {
      "mlp.w1": [0.1867104470729828, -0.19264304637908936],
      "mlp.b1": [-0.01148315705358982, 0.022485515102744102],
      "mlp.w2": [-0.20229680836200714, 0.12456779927015305],
      "mlp.b2": [-0.008689455687999725, -0.008689455687999725],
    },
  },
};

function config(kind: Kind, stateKey: "sample" | "position" = "sample"): SchedulerConfig {
  return { ...schedulerDefaults(kind), lr: 5e-3, stateKey };
}

/** Step k's features [B x F] (loss in (0, 2), cosines in (-1, 1)), upstream dL/dS [B x B] and ids. */
function inputs(f: number, k: number): { x: Float32Array; g: Float32Array; ids: Int32Array } {
  const rng = new Rng(1000 + k);
  const x = Float32Array.from({ length: B * f }, (_, j) => (j % f === 0 ? 2 * rng.next() : 2 * rng.next() - 1));
  const g = Float32Array.from({ length: B * B }, () => rng.normal() / B);
  const ids = rng.shuffle(Int32Array.from({ length: B }, (_, j) => 64 * k + j));
  if (k === 2) ids[127] = ids[3];
  return { x, g, ids };
}

/** [sum |g|, g[0], g[last]] as recorded. */
function summary(g: Float32Array): number[] {
  let l1 = 0;
  for (const v of g) l1 += Math.abs(v);
  return [l1, g[0], g[g.length - 1]];
}

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

function assertClose(got: ArrayLike<number>, want: ArrayLike<number>, tol: number, what: string): void {
  assert.equal(got.length, want.length, `${what}: length`);
  for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got[i] - want[i]) <= tol, `${what}[${i}]: got ${got[i]}, want ${want[i]} (tolerance ${tol})`);
}

/** x - mean(x): logits up to the shift softmax ignores. */
function centred(x: ArrayLike<number>): number[] {
  let m = 0;
  for (let i = 0; i < x.length; i++) m += x[i] / x.length;
  return Array.from(x, (v) => v - m);
}

describe("scheduler's per-step path vs the pre-change implementation (cpu)", () => {
  before(async () => {
    assert.equal((await initBackend("cpu")).name, "cpu");
  });

  test("the kept reference reproduces the numbers recorded from the pre-change scheduler exactly", () => {
    for (const kind of ["lstm", "lstm1", "mlp"] as Kind[]) {
      const want = GOLDEN[kind];
      const cfg = config(kind);
      const r = new ReferenceScheduler(cfg, 5);
      const rng = new Rng(77);
      for (let k = 0; k < STEPS; k++) {
        const { x, g, ids } = inputs(cfg.features, k);
        const d = r.draw(x, B, B, TAU[kind], rng, ids);
        const grads = r.gradients(x, B, d, TAU[kind], ids, g);
        if (k === 0 || k === 4) {
          assert.deepEqual(Array.from(d.logits.slice(0, 3)), k === 0 ? want.logits0 : want.logits4, `${kind} logits ${k}`);
          assert.deepEqual(Array.from(d.probabilities.slice(0, 3)), k === 0 ? want.pi0 : want.pi4, `${kind} pi ${k}`);
          assert.deepEqual(Array.from(d.picks.slice(0, 12)), k === 0 ? want.picks0 : want.picks4, `${kind} picks ${k}`);
          for (const p of r.params.list()) assert.deepEqual(summary(grads[p.name]), (k === 0 ? want.grad0 : want.grad4)[p.name], `${kind} grad ${k} ${p.name}`);
        }
        r.step(grads);
        r.advance();
      }
      for (const p of r.params.list()) assert.deepEqual([p.data[0], p.data[p.data.length - 1]], want.phi[p.name], `${kind} phi ${p.name}`);
      if (want.state200 !== undefined) {
        const c = r.carried(200);
        assert.deepEqual([c.h[0], c.h[63], c.c[0], c.c[63]], want.state200, `${kind} state of id 200`);
      }
    }
  });

  const cases: Array<{ kind: Kind; stateKey: "sample" | "position" }> = [
    { kind: "lstm", stateKey: "sample" },
    { kind: "lstm", stateKey: "position" },
    { kind: "lstm1", stateKey: "sample" },
    { kind: "mlp", stateKey: "sample" },
  ];
  for (const { kind, stateKey } of cases) {
    test(`${kind}${stateKey === "position" ? " (state per position)" : ""}: each of ${STEPS} steps, from the same phi, Adam moments and carried state, gives the reference's pi, S, gradient, phi and state`, () => {
      const cfg = config(kind, stateKey);
      const s = createScheduler(cfg, new Rng(5));
      const r = new ReferenceScheduler(cfg, 5);
      for (let k = 0; k < STEPS; k++) {
        r.load(s.exportState());
        const { x, g, ids } = inputs(cfg.features, k);
        const xt = tf.tensor2d(x, [B, cfg.features]);
        const d = s.draw(xt, { draws: B, tau: TAU[kind], rng: new Rng(77 + k), ids });
        const rd = r.draw(x, B, B, TAU[kind], new Rng(77 + k), ids);
        const at = `${kind} step ${k}`;
        assertClose(centred(d.logits), centred(rd.logits), 1e-6, `${at}: logits - mean`);
        assertClose(d.probabilities, rd.probabilities, 1e-8, `${at}: pi`);
        assert.deepEqual(Array.from(d.picks), Array.from(rd.picks), `${at}: picks`);
        assert.deepEqual(Array.from(d.selection.dataSync()), Array.from(rd.selection), `${at}: S`);
        const got = s.selectionGradients(d, g);
        const want = r.gradients(x, B, rd, TAU[kind], ids, g);
        const scale = Math.max(...Object.values(want).map(maxAbs));
        assert.ok(scale > 1e-4, `${at}: gradient scale ${scale}`);
        for (const p of s.params.list()) {
          if (p.name === SHIFT[kind]) {
            assert.ok(Math.abs(got[p.name][0]) < 1e-12 * scale && Math.abs(want[p.name][0]) < 1e-5 * scale, `${at}: ${p.name}'s gradient is rounding (${got[p.name][0]}, reference ${want[p.name][0]})`);
          } else {
            assertClose(got[p.name], want[p.name], 1e-5 * scale, `${at}: d/d${p.name}`);
          }
        }
        s.trainFromSelectionGrad(d, g);
        r.step(want);
        for (const p of s.params.list()) {
          if (p.name === SHIFT[kind]) continue;
          const q = r.params.get(p.name).data;
          const gw = want[p.name];
          const floor = 1e-3 * maxAbs(gw);
          let compared = 0;
          p.data.forEach((v, j) => {
            if (Math.abs(gw[j]) <= floor) return;
            compared++;
            assert.ok(Math.abs(v - q[j]) <= 1e-6, `${at}: ${p.name}[${j}] after the step: ${v} vs ${q[j]} (gradient ${gw[j]})`);
          });
          if (maxAbs(gw) > 0) assert.ok(compared > p.data.length / 2, `${at}: ${p.name}: compared ${compared} of ${p.data.length}`);
        }
        s.advance();
        r.advance();
        if (kind === "lstm") {
          const st = s.exportState().carried;
          assert.ok(st !== null);
          const keys = stateKey === "position" ? Int32Array.from({ length: B }, (_, n) => n) : ids;
          for (const key of keys) {
            const c = r.carried(key);
            assertClose(st.h.subarray(key * cfg.hidden, (key + 1) * cfg.hidden), c.h, 1e-6, `${at}: h of key ${key}`);
            assertClose(st.c.subarray(key * cfg.hidden, (key + 1) * cfg.hidden), c.c, 1e-6, `${at}: c of key ${key}`);
          }
          assert.ok(maxAbs(st.h) > 0.01, "a non-trivial carried state");
        }
        tf.dispose([xt, d.selection]);
      }
    });
  }

  for (const kind of ["lstm", "lstm1", "mlp"] as Kind[]) {
    test(`${kind}: ${STEPS} steps on its own reproduce the recorded numbers (selections exactly)`, () => {
      const want = GOLDEN[kind];
      const cfg = config(kind);
      const s = createScheduler(cfg, new Rng(5));
      const rng = new Rng(77);
      for (let k = 0; k < STEPS; k++) {
        const { x, g, ids } = inputs(cfg.features, k);
        const xt = tf.tensor2d(x, [B, cfg.features]);
        const d = s.draw(xt, { draws: B, tau: TAU[kind], rng, ids });
        if (k === 0 || k === 4) {
          const at = `${kind} step ${k}`;
          assert.deepEqual(Array.from(d.picks.slice(0, 12)), k === 0 ? want.picks0 : want.picks4, `${at}: picks`);
          assertClose(d.probabilities.slice(0, 3), k === 0 ? want.pi0 : want.pi4, 1e-7, `${at}: pi`);
          // before any step the read-out bias is the same, so the logits themselves agree
          if (k === 0) assertClose(d.logits.slice(0, 3), want.logits0, 1e-6, `${at}: logits`);
          const grads = s.selectionGradients(d, g);
          const scale = Math.max(...Object.values(grads).map(maxAbs));
          for (const p of s.params.list()) {
            if (p.name === SHIFT[kind]) continue;
            const [l1, first, last] = (k === 0 ? want.grad0 : want.grad4)[p.name];
            const [gl1, gFirst, gLast] = summary(grads[p.name]);
            assert.ok(Math.abs(gl1 - l1) <= 1e-5 * scale * p.data.length, `${at}: sum |d/d${p.name}| ${gl1} vs ${l1}`);
            assertClose([gFirst, gLast], [first, last], 1e-5 * scale, `${at}: d/d${p.name} first, last`);
          }
        }
        s.trainFromSelectionGrad(d, g);
        s.advance();
        tf.dispose([xt, d.selection]);
      }
      const start = createScheduler(cfg, new Rng(5)).params;
      for (const p of s.params.list()) {
        const [first, last] = want.phi[p.name];
        if (p.name === SHIFT[kind]) {
          // the old path drifted by rounding (first = last = the bias); here it stays where it started
          const b0 = start.get(p.name).data[0];
          assert.ok(Math.abs(p.data[0] - b0) < 1e-6 && Math.abs(first - b0) > 1e-3, `${kind} ${p.name}: ${p.data[0]} from ${b0} (old path ${first})`);
          continue;
        }
        assertClose([p.data[0], p.data[p.data.length - 1]], [first, last], 1e-5, `${kind} phi ${p.name}`);
      }
      if (want.state200 !== undefined) {
        const st = s.exportState().carried;
        assert.ok(st !== null);
        const H = cfg.hidden;
        assertClose([st.h[200 * H], st.h[200 * H + 63], st.c[200 * H], st.c[200 * H + 63]], want.state200, 1e-6, `${kind} state of id 200`);
      }
    });
  }
});
