import { studentFlowSuite } from './support/student-flow-suite.js';

studentFlowSuite('postgres');
