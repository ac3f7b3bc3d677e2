// Preloaded (node --require) by tests/sdks: every TCP connection that is not to
// 127.0.0.1 is refused before it is attempted, and reported on stderr as "blocked".
const net = require("node:net");

const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function (...args) {
  const first = Array.isArray(args[0]) ? args[0][0] : args[0];
  const options = typeof first === "object" ? first : { port: first, host: args[1] };
  if (!options.path && options.host !== "127.0.0.1") {
    process.stderr.write(`blocked: a connection to ${options.host}:${options.port}\n`);
    throw new Error(`blocked: ${options.host} is not loopback`);
  }
  return connect.apply(this, args);
};
