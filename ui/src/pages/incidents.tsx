export function IncidentsPage() {
  return <h1>Incidents</h1>;
}
export function IncidentDetailPage(_props: { id: string }) {
  return <h1>Incident</h1>;
}
