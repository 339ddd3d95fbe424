// A worker-pool module: the reply is twice the request.
export default function double(n) {
  return n * 2;
}
