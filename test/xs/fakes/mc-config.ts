// Fake "mc/config": the test fills world.config before calling main.
import { world } from "./world.js";

const config = new Proxy({}, {
  get: (_target, key) => world.config[key as string],
  has: (_target, key) => key in world.config,
  ownKeys: () => Reflect.ownKeys(world.config),
  getOwnPropertyDescriptor: (_target, key) => {
    const d = Reflect.getOwnPropertyDescriptor(world.config, key);
    return d ? { ...d, configurable: true } : undefined;
  },
}) as Readonly<Record<string, unknown>>;
export default config;
