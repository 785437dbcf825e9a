export function AlertDetailPage(_props: Record<string, unknown>) {
  return <h1>Coming soon</h1>;
}
