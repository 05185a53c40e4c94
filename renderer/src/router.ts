import { createRouter, createWebHashHistory, type RouteRecordRaw } from 'vue-router'
import ComposeView from './views/ComposeView.vue'
import EngineView from './views/EngineView.vue'
import InspectView from './views/InspectView.vue'
import LandingView from './views/LandingView.vue'
import ProfileView from './views/ProfileView.vue'
import RunPageView from './views/RunPageView.vue'
import RunsView from './views/RunsView.vue'
import StartView from './views/StartView.vue'
import TrainView from './views/TrainView.vue'

export const SCREENS = [
  { path: '/start', name: 'start', title: 'Start', what: 'What Linea is for, and a first run: the MQAR recall sweep, small enough for a CPU.' },
  { path: '/compose', name: 'compose', title: 'Compose', what: 'Compose a model layer by layer, with live cost estimates.' },
  { path: '/train', name: 'train', title: 'Train', what: 'Train on synthetic recall, state tracking or byte-level text, and watch it live.' },
  { path: '/profile', name: 'profile', title: 'Profile', what: 'Kernel time and memory per layer and across sequence lengths, with a one-click report.' },
  { path: '/inspect', name: 'inspect', title: 'Inspect', what: 'Recall, recurrent state and attention behaviour from saved checkpoints.' },
  { path: '/workspace', name: 'workspace', title: 'Runs', what: 'The runs of the workspace: compare curves and settings, export metrics.' },
] as const

const routes: RouteRecordRaw[] = [
  // The landing: the Start screen for a workspace with no runs yet, Compose otherwise (and when the runs cannot be listed).
  { path: '/', name: 'landing', component: LandingView },
  { path: '/start', name: 'start', component: StartView, meta: { title: 'Start' } },
  { path: '/engine', name: 'engine', component: EngineView, meta: { title: 'Engine' } },
  { path: '/compose', name: 'compose', component: ComposeView, meta: { title: 'Compose' } },
  { path: '/train', name: 'train', component: TrainView, meta: { title: 'Train' } },
  { path: '/workspace', name: 'workspace', component: RunsView, meta: { title: 'Runs' } },
  // One run's page; the id is checked by the LabApi like any other (an unknown one says so).
  { path: '/runs/:id', name: 'run', component: RunPageView, props: true, meta: { title: 'Run' } },
  { path: '/profile', name: 'profile', component: ProfileView, meta: { title: 'Profile' } },
  { path: '/inspect', name: 'inspect', component: InspectView, meta: { title: 'Inspect' } },
]

export const router = createRouter({ history: createWebHashHistory(), routes })
