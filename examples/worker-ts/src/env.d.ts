// The types workerd gives a Worker, as much of them as src/index.ts uses
// (@cloudflare/workers-types declares the full set), and the Wasm module
// import: workerd hands a `.wasm` module over as a compiled WebAssembly.Module.

declare module "*.wasm" {
  const module: WebAssembly.Module;
  export default module;
}

interface Fetcher {
  fetch(input: string | Request, init?: RequestInit): Promise<Response>;
}

interface ExportedHandler<Env> {
  fetch(request: Request, env: Env): Promise<Response>;
}
