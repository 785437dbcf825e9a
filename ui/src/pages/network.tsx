export function NetworkPage(_props: Record<string, unknown>) {
  return <h1>Coming soon</h1>;
}
