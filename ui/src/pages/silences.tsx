export function SilencesPage(_props: Record<string, unknown>) {
  return <h1>Silences</h1>;
}
export function NewSilencePage(_props: Record<string, unknown>) {
  return <h1>New silence</h1>;
}
