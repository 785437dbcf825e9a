export function PosturePage(_props: Record<string, unknown>) {
  return <h1>Coming soon</h1>;
}
