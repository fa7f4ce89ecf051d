// Ink loads react-devtools-core only when DEV=true; this stub keeps `bun build --compile` resolvable.
export default { initialize() {}, connectToDevTools() {} };
