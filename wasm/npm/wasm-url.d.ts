/**
 * `@verge/runtime/wasm` (also `@verge/runtime/verge_wasm_bg.wasm`): the
 * WebAssembly module itself. Import it through your bundler's asset handling
 * and pass the URL to `init`:
 *
 * - esbuild: `--loader:.wasm=file`, then `import wasmUrl from "@verge/runtime/wasm"`;
 * - Vite: `import wasmUrl from "@verge/runtime/wasm?url"`.
 *
 * Without a bundler, `init()` finds the file itself next to `verge_wasm.js`
 * (`new URL("verge_wasm_bg.wasm", import.meta.url)`).
 */
declare const wasmUrl: string;
export default wasmUrl;
