/**
 * Chart.js with only the parts the console draws (bar charts on category and linear scales, tooltip,
 * legend), so the bundle leaves the rest out. Loaded on the charts page only.
 */
import { BarController, BarElement, CategoryScale, Chart, Legend, LinearScale, Tooltip } from 'chart.js';

Chart.register(BarController, BarElement, CategoryScale, LinearScale, Tooltip, Legend);

export { Chart };
