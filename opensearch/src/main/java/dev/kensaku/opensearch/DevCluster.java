package dev.kensaku.opensearch;

import java.io.IOException;
import java.util.concurrent.CountDownLatch;

import org.codelibs.opensearch.runner.OpenSearchRunner;
import org.opensearch.cluster.health.ClusterHealthStatus;

/**
 * N OpenSearch nodes in this JVM, with the k-NN plugin, for development and tests.
 *
 * <p>Usage: {@code DevCluster NODES HTTP_PORT DATA_DIR [CLUSTER_NAME]}. Node 1 listens for HTTP on
 * HTTP_PORT, node i on HTTP_PORT + i - 1. When the cluster is green one line, {@code READY http://...},
 * is printed; the nodes stop when the process is terminated.
 */
public final class DevCluster {
    private static final String KNN_PLUGIN = "org.opensearch.knn.plugin.KNNPlugin";

    private DevCluster() {
    }

    public static void main(String[] args) throws IOException, InterruptedException {
        if (args.length < 3) {
            System.err.println("usage: DevCluster NODES HTTP_PORT DATA_DIR [CLUSTER_NAME]");
            System.exit(2);
        }
        int nodes = Integer.parseInt(args[0]);
        int port = Integer.parseInt(args[1]);
        String clusterName = args.length > 3 ? args[3] : "kensaku-dev";
        OpenSearchRunner runner = new OpenSearchRunner();
        // Node i takes HTTP port base + i (the runner refuses ports past its maximum, 9299 by default);
        // transport ports from a range above them; nothing but loopback is bound.
        runner.setMaxHttpPort(port + nodes);
        runner.onBuild((index, settings) -> {
            settings.put("network.host", "127.0.0.1");
            settings.put("transport.port", (port + 100) + "-" + (port + 199));
            settings.put("action.auto_create_index", "false");
        }).build(OpenSearchRunner.newConfigs()
                .numOfNode(nodes)
                .basePath(args[2])
                .clusterName(clusterName)
                .baseHttpPort(port - 1)
                .pluginTypes(KNN_PLUGIN)
                .disableESLogger());
        ClusterHealthStatus health = runner.ensureGreen();
        if (health != ClusterHealthStatus.GREEN) {
            System.err.println("the cluster did not turn green: " + health);
            runner.close();
            System.exit(1);
        }
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                runner.close();
            } catch (IOException e) {
                System.err.println("closing the cluster: " + e);
            }
            stopped.countDown();
        }));
        System.out.println("READY http://127.0.0.1:" + port);
        System.out.flush();
        stopped.await();
    }
}
