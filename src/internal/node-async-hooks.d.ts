// workerd provides AsyncLocalStorage under nodejs_compat; declared here so the library needs no @types/node.
declare module "node:async_hooks" {
  export class AsyncLocalStorage<T> {
    run<R>(store: T, callback: () => R): R
    getStore(): T | undefined
  }
}
